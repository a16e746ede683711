/**
 * Start the SOCKS pair in the lab: the C baseline (redsocks 0.5 + Dante 1.4 under mptcpize,
 * exactly as deployed today) or ours (redsocks-ts + socks-server, compiled CLIs).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startDaemon, stopAll, type Started } from './daemons';
import { setupLab } from './gateway';
import { ADDR, Lab } from './lab';
import type { LabProfile } from './profiles';
import { ROOT, daemonEntry } from './paths';
import { waitFor } from './wait';

export const CONF_DIR = path.join(ROOT, 'conf/lab');
export const C_REDSOCKS_PORT = 12346;
export const C_SOCKS_PORT = 1081;
export const OUR_REDSOCKS_PORT = 12345;
export const OUR_SOCKS_PORT = 1080;

/**
 * Write a config into the lab dir, optionally rewriting keys: `key = value;` lines (redsocks
 * syntax) or `key: value` lines (danted syntax, files named danted*). A null value deletes the
 * key's line; a key that is not there is added (redsocks: first in the `redsocks {` section, or
 * in `base {` when spelled `base.KEY`; danted: at the top, among the settings).
 */
export function labConf(lab: Lab, file: string, overrides: Record<string, string | null> = {}): string {
  let text = fs.readFileSync(path.join(CONF_DIR, file), 'utf8');
  const danted = path.basename(file).startsWith('danted');
  for (const [spelled, v] of Object.entries(overrides)) {
    const inBase = !danted && spelled.startsWith('base.');
    const k = inBase ? spelled.slice(5) : spelled;
    const key = k.replace(/\./g, '\\.');
    const re = danted ? new RegExp(`^(\\s*)${key}\\s*:.*$\\n?`, 'm') : new RegExp(`^(\\s*)${key}\\s*=.*;\\s*$\\n?`, 'm');
    const line = v === null ? '' : danted ? `$1${k}: ${v}\n` : `$1${k} = ${v};\n`;
    if (re.test(text)) text = text.replace(re, line);
    else if (v !== null) text = danted ? `${k}: ${v}\n${text}` : text.replace(inBase ? /(base\s*\{)/ : /(redsocks\s*\{)/, `$1\n  ${k} = ${v};`);
  }
  const tag = Object.keys(overrides).length ? crypto.createHash('sha1').update(JSON.stringify(overrides)).digest('hex').slice(0, 10) : 'base';
  const out = path.join(lab.dir, `${path.basename(file, '.conf')}-${tag}.conf`);
  fs.writeFileSync(out, text);
  return out;
}

/** Dante 1.4 at the server's site under mptcpize, on C_SOCKS_PORT. */
export function startCDante(lab: Lab): Promise<Started> {
  return startDaemon(lab.ns.remote, 'danted (C)', ['mptcpize', 'run', 'danted', '-f', labConf(lab, 'danted-c.conf')], C_SOCKS_PORT);
}

/**
 * The C redsocks 0.5 in the gateway under mptcpize: its TCP section on C_REDSOCKS_PORT to the
 * SOCKS server on `socksPort` (Dante's by default), plus `sections` (`redudp { ... }`,
 * `dnstc { ... }`), written to `name` in the lab dir.
 */
export function startCRedsocks(lab: Lab, name: string, sections: string[], o: { socksPort?: number; logInfo?: boolean } = {}): Promise<Started> {
  const conf = path.join(lab.dir, name);
  fs.writeFileSync(conf, [
    `base { log_debug = off; log_info = ${o.logInfo ? 'on' : 'off'}; log = stderr; daemon = off; redirector = iptables; }`,
    `redsocks { local_ip = 0.0.0.0; local_port = ${C_REDSOCKS_PORT}; ip = ${ADDR.server}; port = ${o.socksPort ?? C_SOCKS_PORT}; type = socks5; }`,
    ...sections,
    '',
  ].join('\n'));
  return startDaemon(lab.ns.gw, 'redsocks (C)', ['mptcpize', 'run', 'redsocks', '-c', conf], C_REDSOCKS_PORT);
}

export async function startCPair(lab: Lab): Promise<Started[]> {
  const dante = await startCDante(lab);
  const rs = await startDaemon(lab.ns.gw, 'redsocks (C)', ['mptcpize', 'run', 'redsocks', '-c', labConf(lab, 'redsocks-c.conf')], C_REDSOCKS_PORT);
  return [dante, rs];
}

export function oursBuilt(): { ok: boolean; why?: string } {
  for (const p of ['packages/socks-server/dist/cli.js', 'packages/redsocks-ts/dist/cli.js']) {
    if (!fs.existsSync(path.join(ROOT, p))) return { ok: false, why: `${p} is missing (run npm run build)` };
  }
  return { ok: true };
}

/** socks-server with a conf/lab config (default danted.conf) and optional keyword overrides. */
export async function startOurServer(lab: Lab, file = 'danted.conf', overrides: Record<string, string | null> = {}): Promise<Started> {
  return startDaemon(lab.ns.remote, 'socks-server', [...daemonEntry('packages/socks-server/dist/cli.js'), '-f', labConf(lab, file, overrides)], OUR_SOCKS_PORT);
}

/** redsocks-ts with optional key overrides (e.g. { optimistic: 'off', fastopen: 'off' }; null deletes a key). */
export async function startOurRedsocks(
  lab: Lab,
  overrides: Record<string, string | null> = {},
  port = OUR_REDSOCKS_PORT,
  file = 'redsocks.conf',
): Promise<Started> {
  const o = { ...overrides };
  if (port !== OUR_REDSOCKS_PORT) o.local_port = String(port);
  return startDaemon(lab.ns.gw, 'redsocks-ts', [...daemonEntry('packages/redsocks-ts/dist/cli.js'), '-c', labConf(lab, file, o)], port);
}

/**
 * The warm-pool counters of redsocks-ts' SIGUSR1 dump (`pool size=4 idle=4 ... hits=2 ...`), and
 * each path's idle pooled connections as `pooled_NAME` (`path wan1 ... pooled=3`).
 */
export async function redsocksPoolStats(rs: Started): Promise<Record<string, number>> {
  // by a count of all output, not rs.output().length: that stops growing once the kept output is 1 MB
  const mark = rs.outputMark();
  const since = (): string => rs.outputSince(mark);
  rs.proc.kill('SIGUSR1');
  const line = (await waitFor(() => /pool (size=.*)/.exec(since())?.[1], 5000, 'the SIGUSR1 dump')) as string;
  const dump = since();
  const perPath = [...dump.matchAll(/ path (\S+) \S+ \S+ rtt=\S+ since=\d+s pooled=(\d+)/g)].map((m) => [`pooled_${m[1]}`, Number(m[2])]);
  return Object.fromEntries([...[...line.matchAll(/(\w+)=(\d+)/g)].map((m) => [m[1], Number(m[2])]), ...perPath]);
}

/**
 * A lab with the gateway set up and our pair running (the e2e suites' start): the daemons must
 * be built. `serverKeys` and `redsocks` are labConf overrides of danted.conf and redsocks.conf.
 */
export async function startOurLab(prof: LabProfile, o: { serverKeys?: Record<string, string | null>; redsocks?: Record<string, string | null> } = {}): Promise<{ lab: Lab; daemons: Started[] }> {
  const built = oursBuilt();
  if (!built.ok) throw new Error(`the daemons must be built first: ${built.why}`);
  const lab = await Lab.create(prof);
  try {
    setupLab(lab);
    const server = await startOurServer(lab, 'danted.conf', o.serverKeys);
    const daemons = [server];
    try {
      daemons.push(await startOurRedsocks(lab, o.redsocks));
    } catch (e) {
      await stopAll(daemons);
      throw e;
    }
    return { lab, daemons };
  } catch (e) {
    lab.destroy();
    throw e;
  }
}
