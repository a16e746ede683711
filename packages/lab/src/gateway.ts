/** Run `mptcp-gateway` inside the lab's gateway (or remote) namespace with the lab's WAN plan. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Lab, ADDR, IFACES, NodeName } from './lab';
import { ROOT, TSX } from './paths';

export const REDSOCKS_PORT = 12345;
export const SOCKS_PORT = 1080;

export const GATEWAY_DIST = path.join(ROOT, 'packages/redsocks-ts/dist/gateway/cli.js');

/** The gateway CLI: compiled dist if asked (the demo, benches), else the TS source through tsx. */
export function gatewayCliArgv(compiled = false): string[] {
  return compiled
    ? ['node', path.join(ROOT, 'packages/redsocks-ts/dist/gateway/cli.js')]
    : [TSX, path.join(ROOT, 'packages/redsocks-ts/src/gateway/cli.ts')];
}

export interface LabSetupOptions {
  backup2?: boolean;
  redsocksPort?: number;
  staleLossCnt?: number;
  /** More setup flags (--dns-port, --udp-port, --quic, --ipv4-only, more --wan ...). */
  extra?: string[];
}

export function labSetupArgs(lab: Lab, opts: LabSetupOptions = {}): string[] {
  return [
    'setup',
    ...(opts.staleLossCnt !== undefined ? ['--stale-loss-cnt', String(opts.staleLossCnt)] : []),
    '--wan', `isp1=${IFACES.wan1},${ADDR.wan1},${ADDR.gw1}`,
    '--wan', `isp2=${IFACES.wan2},${ADDR.wan2},${ADDR.gw2}${opts.backup2 ? ',backup' : ''}`,
    '--lan', IFACES.lan,
    '--proxy', `${ADDR.server}:${SOCKS_PORT}`,
    '--redsocks-port', String(opts.redsocksPort ?? REDSOCKS_PORT),
    '--state', path.join(lab.dir, 'gw-state.json'),
    ...(opts.extra ?? []),
  ];
}

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Benches: the compiled CLI when it is built (fast start), else tsx. */
export const preferCompiled = (): boolean => fs.existsSync(GATEWAY_DIST);

/** Tests: the compiled CLI only when it is newer than every gateway source file (node starts in
 * ~50 ms, tsx in ~1 s), so a test never runs stale code. */
export function compiledIsFresh(): boolean {
  if (!fs.existsSync(GATEWAY_DIST)) return false;
  const built = fs.statSync(path.join(path.dirname(GATEWAY_DIST), 'doctor.js')).mtimeMs;
  const srcDir = path.join(ROOT, 'packages/redsocks-ts/src/gateway');
  return fs.readdirSync(srcDir).every((f) => {
    const js = path.join(path.dirname(GATEWAY_DIST), f.replace(/\.ts$/, '.js'));
    return fs.existsSync(js) && fs.statSync(js).mtimeMs >= fs.statSync(path.join(srcDir, f)).mtimeMs && built > 0;
  });
}

export function gatewayCli(lab: Lab, node: NodeName, args: string[], compiled = compiledIsFresh()): CliResult {
  const r = spawnSync('ip', ['netns', 'exec', lab.ns[node].name, ...gatewayCliArgv(compiled), ...args], {
    encoding: 'utf8',
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { code: r.status ?? 1, out: r.stdout ?? '', err: r.stderr ?? '' };
}

/** Configure the gateway (and the server host's sysctls) the way the README says. */
export function setupLab(lab: Lab, opts: LabSetupOptions & { compiled?: boolean } = {}): void {
  const g = gatewayCli(lab, 'gw', labSetupArgs(lab, opts), opts.compiled);
  if (g.code !== 0) throw new Error(`mptcp-gateway setup failed in gw: ${g.err || g.out}`);
  const s = gatewayCli(lab, 'remote', ['setup', '--role', 'server', '--state', path.join(lab.dir, 'srv-state.json'), ...(opts.staleLossCnt !== undefined ? ['--stale-loss-cnt', String(opts.staleLossCnt)] : [])], opts.compiled);
  if (s.code !== 0) throw new Error(`mptcp-gateway setup --role server failed: ${s.err || s.out}`);
}
