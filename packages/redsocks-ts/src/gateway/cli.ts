#!/usr/bin/env node
/**
 * mptcp-gateway setup  --wan NAME=IFACE,ADDR,GW[,backup] ... [--lan IFACE|CIDR --redsocks-port N]
 *                      [--proxy IP:PORT] [--tproxy] [--dns-port N] [--udp-port N] [--quic reject|direct|redudp]
 *                      [--ipv4-only] [--stale-loss-cnt N] [--state FILE] [--dry-run] [--undo]
 * mptcp-gateway setup  --role server [--dry-run] [--undo]
 * mptcp-gateway doctor [--role gateway|server] [--server IP:PORT] [--redsocks-port N] [--listen IP:PORT] [--json]
 * mptcp-gateway status [--metrics IP:PORT] [--server-metrics IP:PORT] [--watch] [--interval S] [--json]
 * mptcp-gateway --version | --help
 * No arguments, an unknown option or a WAN/LAN interface or address missing here: exit 2.
 */
import { ProxyError } from '@mptcp-proxy/common';
import { defaultSpec, GatewaySpec, missingOnHost, parseHostPort, parseLan, parseQuic, parseWan, validate } from './spec';
import { interfaceAddrs, interfaceNames } from './system';
import { VERSION } from '../version';
import { formatStep, setup, undo } from './setup';
import { doctor, DoctorOptions, formatFindings } from './doctor';
import { fetchMetricsText, renderStatus, renderStatusLine, statusSnapshot, StatusWatch, type StatusSources } from './status';

/** Where redsocks-ts' metrics are when --metrics is not given (docs/metrics.md). */
const DEFAULT_METRICS = '127.0.0.1:9101';

async function status(a: Args): Promise<number> {
  const gw = one(a, 'metrics') ?? DEFAULT_METRICS;
  const srv = one(a, 'server-metrics');
  const interval = intArg(a, 'interval', 1, 3600) ?? 1;
  const src: StatusSources = { gateway: () => fetchMetricsText(gw) };
  // the server answers over a WAN path that may be the dead one: never hold a tick for it
  if (srv) src.server = () => fetchMetricsText(srv, Math.min(3000, interval * 800));
  const tty = Boolean(process.stdout.isTTY);
  if (!a.bools.has('watch')) {
    // two scrapes, `interval` apart: rates need a difference
    const first = await statusSnapshot(src);
    await new Promise((r) => setTimeout(r, interval * 1000));
    const second = await statusSnapshot(src);
    if (a.bools.has('json')) process.stdout.write(JSON.stringify(second.status, null, 2) + '\n');
    else process.stdout.write(renderStatus(second.status, first.status, { color: tty }).join('\n') + '\n');
    if (second.serverError) process.stderr.write(`server metrics: ${second.serverError}\n`);
    return 0;
  }
  let drawn = 0;
  const w = new StatusWatch(src, (cur, prev, serverError) => {
    const stamp = new Date(cur.t).toISOString().slice(11, 19);
    if (a.bools.has('json')) {
      process.stdout.write(JSON.stringify(cur) + '\n');
    } else if (tty) {
      const block = [`mptcp-gateway status  ${stamp}  (every ${interval} s, ^C to stop)`, ...renderStatus(cur, prev, { color: true })];
      if (serverError) block.push(`server metrics: ${serverError}`);
      process.stdout.write(`${drawn ? `\x1b[${drawn}A\x1b[J` : ''}${block.join('\n')}\n`);
      drawn = block.length;
    } else {
      process.stdout.write(`${stamp} ${renderStatusLine(cur, prev)}${serverError ? ` | server metrics: ${serverError}` : ''}\n`);
    }
  }, (e) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${e.message}\n`), interval * 1000);
  w.start();
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      w.stop();
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

const USAGE = `usage:
  mptcp-gateway setup --wan NAME=IFACE,ADDR,GW[,backup] [--wan ...] [--lan IFACE|CIDR --redsocks-port N]
                      [--proxy IP:PORT] [--tproxy] [--dns-port N] [--udp-port N] [--quic reject|direct|redudp]
                      [--ipv4-only] [--stale-loss-cnt N] [--state FILE] [--dry-run] [--undo]
  mptcp-gateway setup --role server [--stale-loss-cnt N] [--dry-run] [--undo]
  mptcp-gateway doctor [--role gateway|server] [--server IP:PORT] [--redsocks-port N] [--listen IP:PORT] [--json]
  mptcp-gateway status [--metrics IP:PORT] [--server-metrics IP:PORT] [--watch] [--interval S] [--json]
  mptcp-gateway --version | --help`;

interface Args {
  cmd: string;
  flags: Map<string, string[]>;
  bools: Set<string>;
}

/** Each command's options: true = a switch, false = takes a value. */
const OPTIONS: Record<string, Record<string, boolean>> = {
  setup: {
    wan: false, lan: false, 'redsocks-port': false, proxy: false, tproxy: true, 'dns-port': false, 'udp-port': false,
    quic: false, 'ipv4-only': true, 'stale-loss-cnt': false, state: false, role: false, 'dry-run': true, undo: true, help: true,
  },
  doctor: { role: false, server: false, 'redsocks-port': false, listen: false, json: true, help: true },
  status: { metrics: false, 'server-metrics': false, watch: true, interval: false, json: true, help: true },
};

function usageError(msg: string): never {
  throw new ProxyError('EGATEWAY_ARGS', msg);
}

/** Edit distance, for "did you mean" on a mistyped option. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

export function parseArgs(argv: string[]): Args {
  const [cmd = '', ...rest] = argv;
  const flags = new Map<string, string[]>();
  const bools = new Set<string>();
  const known = OPTIONS[cmd];
  if (!known) return { cmd, flags, bools };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith('--')) usageError(`${cmd}: unexpected argument "${a}"`);
    let name = a.slice(2);
    let val: string | undefined;
    const eq = name.indexOf('=');
    if (eq > 0) [name, val] = [name.slice(0, eq), name.slice(eq + 1)];
    if (!(name in known)) {
      const near = Object.keys(known).filter((k) => distance(k, name) <= 2);
      usageError(`${cmd}: unknown option --${name}${near.length ? ` (did you mean --${near.join(' or --')}?)` : ''}`);
    }
    if (known[name]) {
      if (val !== undefined) usageError(`${cmd}: --${name} takes no value`);
      bools.add(name);
      continue;
    }
    if (val === undefined) {
      val = rest[++i];
      if (val === undefined) usageError(`${cmd}: --${name} needs a value`);
    }
    flags.set(name, [...(flags.get(name) ?? []), val]);
  }
  return { cmd, flags, bools };
}

function one(a: Args, name: string): string | undefined {
  const v = a.flags.get(name);
  if (v && v.length > 1) usageError(`${a.cmd}: --${name} given ${v.length} times`);
  return v?.[0];
}

/** An integer option in [min, max], or undefined when absent. */
function intArg(a: Args, name: string, min: number, max: number): number | undefined {
  const v = one(a, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) usageError(`${a.cmd}: --${name} "${v}" is not a number from ${min} to ${max}`);
  return Number(v);
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
  spec.redsocksPort = intArg(a, 'redsocks-port', 1, 65535);
  spec.tproxy = a.bools.has('tproxy');
  spec.ipv6 = !a.bools.has('ipv4-only');
  spec.dnsPort = intArg(a, 'dns-port', 1, 65535);
  spec.udpPort = intArg(a, 'udp-port', 1, 65535);
  const quic = one(a, 'quic');
  if (quic) spec.quic = parseQuic(quic);
  spec.staleLossCnt = intArg(a, 'stale-loss-cnt', 1, 255) ?? spec.staleLossCnt;
  const state = one(a, 'state');
  if (state) spec.statePath = state;
  if (spec.role === 'server' && spec.statePath === defaultSpec().statePath) spec.statePath = '/var/lib/mptcp-gateway/server-state.json';
  validate(spec);
  return spec;
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (argv[0] === '--version') {
    process.stdout.write(`mptcp-gateway/${VERSION} (redsocks-ts)\n`);
    return 0;
  }
  const a = parseArgs(argv);
  if (a.cmd === 'help' || a.bools.has('help') || a.cmd === '-h' || a.cmd === '--help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (a.cmd === 'setup') {
    const spec = specFromArgs(a);
    const dry = a.bools.has('dry-run');
    // --undo works from the saved state, even when a WAN has gone away since.
    if (!a.bools.has('undo')) {
      const missing = missingOnHost(spec, interfaceNames(), interfaceAddrs());
      if (missing.length) usageError(`setup: not on this machine:\n  ${missing.join('\n  ')}`);
    }
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
    opts.redsocksPort = intArg(a, 'redsocks-port', 1, 65535);
    const f = await doctor(opts);
    if (a.bools.has('json')) process.stdout.write(JSON.stringify(f, null, 2) + '\n');
    else process.stdout.write(formatFindings(f) + '\n');
    const fails = f.filter((x) => x.level === 'fail').length;
    if (!a.bools.has('json')) process.stdout.write(fails ? `\n${fails} problem(s) found\n` : '\nno problems found\n');
    return fails ? 1 : 0;
  }
  if (a.cmd === 'status') return status(a);
  process.stderr.write(`mptcp-gateway: unknown command "${a.cmd}"\n${USAGE}\n`);
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
