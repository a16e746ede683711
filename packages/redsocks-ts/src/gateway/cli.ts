#!/usr/bin/env node
/**
 * mptcp-gateway setup  --wan NAME=IFACE,ADDR,GW[,backup] ... [--lan IFACE|CIDR --redsocks-port N]
 *                      [--proxy IP:PORT] [--tproxy] [--stale-loss-cnt N] [--state FILE] [--dry-run] [--undo]
 * mptcp-gateway setup  --role server [--dry-run] [--undo]
 * mptcp-gateway doctor [--role gateway|server] [--server IP:PORT] [--redsocks-port N] [--listen IP:PORT] [--json]
 */
import { ProxyError } from '@mptcp-proxy/common';
import { defaultSpec, GatewaySpec, parseHostPort, parseLan, parseWan, validate } from './spec';
import { formatStep, setup, undo } from './setup';
import { doctor, DoctorOptions, formatFindings } from './doctor';

const USAGE = `usage:
  mptcp-gateway setup --wan NAME=IFACE,ADDR,GW[,backup] [--wan ...] [--lan IFACE|CIDR --redsocks-port N]
                      [--proxy IP:PORT] [--tproxy] [--stale-loss-cnt N] [--state FILE] [--dry-run] [--undo]
  mptcp-gateway setup --role server [--stale-loss-cnt N] [--dry-run] [--undo]
  mptcp-gateway doctor [--role gateway|server] [--server IP:PORT] [--redsocks-port N] [--listen IP:PORT] [--json]`;

interface Args {
  cmd: string;
  flags: Map<string, string[]>;
  bools: Set<string>;
}

const BOOL_FLAGS = new Set(['dry-run', 'undo', 'tproxy', 'json', 'help']);

function parseArgs(argv: string[]): Args {
  const [cmd = 'help', ...rest] = argv;
  const flags = new Map<string, string[]>();
  const bools = new Set<string>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith('--')) throw new ProxyError('EGATEWAY_ARGS', `unexpected argument "${a}"`);
    let name = a.slice(2);
    let val: string | undefined;
    const eq = name.indexOf('=');
    if (eq > 0) [name, val] = [name.slice(0, eq), name.slice(eq + 1)];
    if (BOOL_FLAGS.has(name)) {
      bools.add(name);
      continue;
    }
    if (val === undefined) {
      val = rest[++i];
      if (val === undefined) throw new ProxyError('EGATEWAY_ARGS', `--${name} needs a value`);
    }
    flags.set(name, [...(flags.get(name) ?? []), val]);
  }
  return { cmd, flags, bools };
}

function one(a: Args, name: string): string | undefined {
  return a.flags.get(name)?.at(-1);
}

function role(a: Args): 'gateway' | 'server' {
  const r = one(a, 'role') ?? 'gateway';
  if (r !== 'gateway' && r !== 'server') throw new ProxyError('EGATEWAY_ARGS', `--role must be gateway or server, not "${r}"`);
  return r;
}

export function specFromArgs(a: Args): GatewaySpec {
  const spec = defaultSpec();
  spec.role = role(a);
  spec.wans = (a.flags.get('wan') ?? []).map(parseWan);
  const lan = one(a, 'lan');
  if (lan) spec.lan = parseLan(lan);
  const proxy = one(a, 'proxy');
  if (proxy) spec.proxy = parseHostPort(proxy, '--proxy');
  const rp = one(a, 'redsocks-port');
  if (rp) spec.redsocksPort = Number(rp);
  spec.tproxy = a.bools.has('tproxy');
  const st = one(a, 'stale-loss-cnt');
  if (st) spec.staleLossCnt = Number(st);
  const state = one(a, 'state');
  if (state) spec.statePath = state;
  if (spec.role === 'server' && spec.statePath === defaultSpec().statePath) spec.statePath = '/var/lib/mptcp-gateway/server-state.json';
  validate(spec);
  return spec;
}

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  if (a.cmd === 'help' || a.bools.has('help') || a.cmd === '-h' || a.cmd === '--help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (a.cmd === 'setup') {
    const spec = specFromArgs(a);
    const dry = a.bools.has('dry-run');
    const r = a.bools.has('undo') ? undo(spec, { dryRun: dry }) : setup(spec, { dryRun: dry });
    if (r.steps.length === 0) process.stdout.write('nothing to do: the system already matches\n');
    for (const s of r.steps) process.stdout.write((dry ? formatStep(s) : `done: ${s.what}`) + '\n');
    return 0;
  }
  if (a.cmd === 'doctor') {
    const opts: DoctorOptions = { role: role(a) };
    const srv = one(a, 'server');
    if (srv) opts.server = parseHostPort(srv, '--server');
    const listen = one(a, 'listen');
    if (listen) opts.listen = parseHostPort(listen, '--listen');
    const rp = one(a, 'redsocks-port');
    if (rp) opts.redsocksPort = Number(rp);
    const f = await doctor(opts);
    if (a.bools.has('json')) process.stdout.write(JSON.stringify(f, null, 2) + '\n');
    else process.stdout.write(formatFindings(f) + '\n');
    const fails = f.filter((x) => x.level === 'fail').length;
    if (!a.bools.has('json')) process.stdout.write(fails ? `\n${fails} problem(s) found\n` : '\nno problems found\n');
    return fails ? 1 : 0;
  }
  process.stderr.write(`unknown command "${a.cmd}"\n${USAGE}\n`);
  return 2;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`mptcp-gateway: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(e instanceof ProxyError && e.code === 'EGATEWAY_ARGS' ? 2 : 1);
    },
  );
}
