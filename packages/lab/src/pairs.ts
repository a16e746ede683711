/**
 * Start the SOCKS pair in the lab: the C baseline (redsocks 0.5 + Dante 1.4 under mptcpize,
 * exactly as deployed today) or ours (redsocks-ts + socks-server, compiled CLIs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startDaemon, stopAll, type Started } from './daemons';
import { setupLab } from './gateway';
import { ADDR, Lab } from './lab';
import type { LabProfile } from './profiles';
import { ROOT } from './paths';

export const CONF_DIR = path.join(ROOT, 'conf/lab');
export const C_REDSOCKS_PORT = 12346;
export const C_SOCKS_PORT = 1081;
export const OUR_REDSOCKS_PORT = 12345;
export const OUR_SOCKS_PORT = 1080;

/**
 * Write a config into the lab dir, optionally rewriting `key = value;` lines (redsocks syntax);
 * a key not in the file goes into the first `redsocks {`, or into `base {` when spelled `base.KEY`.
 */
export function labConf(lab: Lab, file: string, overrides: Record<string, string> = {}): string {
  let text = fs.readFileSync(path.join(CONF_DIR, file), 'utf8');
  for (const [key, v] of Object.entries(overrides)) {
    const inBase = key.startsWith('base.');
    const k = inBase ? key.slice(5) : key;
    const re = new RegExp(`^(\\s*)${k}\\s*=.*;\\s*$`, 'm');
    text = re.test(text) ? text.replace(re, `$1${k} = ${v};`) : text.replace(inBase ? /(base\s*\{)/ : /(redsocks\s*\{)/, `$1\n  ${k} = ${v};`);
  }
  const out = path.join(lab.dir, `${path.basename(file, '.conf')}-${Object.values(overrides).join('-').replace(/[^\w.-]/g, '_') || 'base'}.conf`);
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

/**
 * socks-server from a conf/lab config (default the shipped `danted.conf`); `settings` are extra
 * danted.conf settings (before the rules), e.g. `extension.metrics: ...`.
 */
export async function startOurServer(lab: Lab, settings: string[] = [], file = 'danted.conf'): Promise<Started> {
  let conf = labConf(lab, file);
  if (settings.length > 0) {
    const text = fs.readFileSync(conf, 'utf8').replace(/^(client|socks) pass/m, `${settings.join('\n')}\n$&`);
    conf = conf.replace(/\.conf$/, '-settings.conf');
    fs.writeFileSync(conf, text);
  }
  return startDaemon(lab.ns.remote, 'socks-server', ['node', path.join(ROOT, 'packages/socks-server/dist/cli.js'), '-f', conf], OUR_SOCKS_PORT);
}

/** redsocks-ts from a conf/lab config (default the shipped `redsocks.conf`) with optional key overrides (e.g. { optimistic: 'off', fastopen: 'off' }). */
export async function startOurRedsocks(lab: Lab, overrides: Record<string, string> = {}, port = OUR_REDSOCKS_PORT, file = 'redsocks.conf'): Promise<Started> {
  const o = { ...overrides };
  if (port !== OUR_REDSOCKS_PORT) o.local_port = String(port);
  return startDaemon(lab.ns.gw, 'redsocks-ts', ['node', path.join(ROOT, 'packages/redsocks-ts/dist/cli.js'), '-c', labConf(lab, file, o)], port);
}

/**
 * A lab with the gateway set up and our pair running (the e2e suites' start): the daemons must
 * be built. `serverSettings` go to danted.conf, `redsocks` are labConf overrides.
 */
export async function startOurLab(prof: LabProfile, o: { serverSettings?: string[]; redsocks?: Record<string, string> } = {}): Promise<{ lab: Lab; daemons: Started[] }> {
  const built = oursBuilt();
  if (!built.ok) throw new Error(`the daemons must be built first: ${built.why}`);
  const lab = await Lab.create(prof);
  try {
    setupLab(lab);
    const server = await startOurServer(lab, o.serverSettings);
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
