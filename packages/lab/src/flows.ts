/**
 * The lab's non-TCP flows: a UDP echo at the origin, the LAN's UDP ping-pong client, the
 * resolver at the server's site (unbound in the origin namespace), and the redsocks-ts config
 * with `redudp {}` and `dns {}` the lab tests and benches start.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnIn, type Started, startDaemon, stopAll, stopProcess } from './daemons';
import { startUnbound } from './dns';
import { preferCompiled, setupLab } from './gateway';
import { ADDR, Lab, destroyLabsOnSignals, type IspName, type NodeName } from './lab';
import { startOurServer } from './pairs';
import { TSX, daemonEntry } from './paths';
import { PROFILES, rttMs, type LabProfile } from './profiles';
import { waitFor } from './wait';

export const UDP_ECHO_PORT = 7;
export const REDUDP_PORT = 10000;
export const DNS_PORT = 5353;
export const RESOLVER_PORT = 53;

export interface PingPongResult {
  sent: number;
  received: number;
  lost: number;
  /** The longest stretch without an answer after the first (up to the end of sending), ms, and when it began (ms after the first send). */
  maxGapMs: number;
  gapStartMs: number;
  /** The wait for the first answer (a new flow's association opening), ms. */
  firstAnswerMs: number | null;
  rttP50Ms: number | null;
}

/** A UDP echo on `host` (the origin's address by default) inside the origin namespace. */
export async function startUdpEcho(lab: Lab, host: string = ADDR.origin, port = UDP_ECHO_PORT): Promise<Started> {
  const d = spawnIn(lab.ns.origin, [TSX, path.join(__dirname, 'udp-echo.ts'), host, String(port)]);
  await waitFor(() => d.output().includes('listening') || d.proc.exitCode !== null, 15000, 'udp echo');
  if (d.proc.exitCode !== null) throw new Error(`udp echo exited: ${d.output()}`);
  return { ...d, name: 'udp-echo', stop: (ms = 3000) => stopProcess(d.proc, ms) };
}

export interface PingPongRun {
  /** The first datagram has left (the client's time origin for gapStartMs). */
  sending: Promise<void>;
  result: Promise<PingPongResult>;
}

/** Starts the ping-pong client in `node` (the LAN by default). */
export function startUdpPingPong(lab: Lab, host: string, port: number, intervalMs: number, durationMs: number, node: NodeName = 'lan'): PingPongRun {
  const d = spawnIn(lab.ns[node], [TSX, path.join(__dirname, 'udp-pingpong.ts'), host, String(port), String(intervalMs), String(durationMs)]);
  const sending = waitFor(() => d.output().includes('sending') || d.proc.exitCode !== null, 20000, 'the ping-pong client to start').then(() => undefined);
  const result = (async () => {
    await waitFor(() => d.proc.exitCode !== null, durationMs + 20000, 'the ping-pong client');
    const line = d.output().split('\n').find((l) => l.startsWith('{'));
    if (!line) throw new Error(`ping-pong printed no result: ${d.output()}`);
    return JSON.parse(line) as PingPongResult;
  })();
  return { sending, result };
}

/** Runs the ping-pong client in `node` (the LAN by default); resolves with its summary. */
export function udpPingPong(lab: Lab, host: string, port: number, intervalMs: number, durationMs: number, node: NodeName = 'lan'): Promise<PingPongResult> {
  return startUdpPingPong(lab, host, port, intervalMs, durationMs, node).result;
}

/**
 * A ping-pong (every 20 ms, `durationMs`) from the LAN to the UDP echo; `cutAtMs` after its first
 * datagram the ISP `which(before)` names then is cut, and restored when the run has ended
 * (`before`: the gateway's UDP sockets before the run started, for udpPathOf()).
 */
export async function pingPongAcrossCut(
  lab: Lab,
  which: (before: Map<string, string>) => IspName | undefined,
  durationMs: number,
  cutAtMs: number,
): Promise<{ isp: IspName | undefined; r: PingPongResult; before: Map<string, string> }> {
  const before = udpSockets(lab);
  const run = startUdpPingPong(lab, ADDR.origin, UDP_ECHO_PORT, 20, durationMs);
  await run.sending;
  await new Promise((res) => setTimeout(res, cutAtMs));
  const isp = which(before);
  if (isp) await lab.cut(isp);
  try {
    return { isp, r: await run.result, before };
  } finally {
    if (isp) await lab.restore(isp);
  }
}

/** unbound at the server's site: the origin namespace, on the origin's address, port 53. */
export function startLabResolver(lab: Lab, address: string = ADDR.origin): Promise<Started> {
  return startUnbound(lab.ns.origin, { address, port: RESOLVER_PORT, dir: lab.dir });
}

export interface FlowConfOptions {
  /** The SOCKS server (ours on 1080 by default; Dante on 1081). */
  socksPort?: number;
  /** Extra key lines for `redudp {}` / `dns {}`. */
  redudp?: string;
  dns?: string | false;
  /** Path probes, ms (the lab's default: every 500, timeout 1000). */
  probeInterval?: number;
  probeTimeout?: number;
  resolver?: string;
  /** The SOCKS server's address (ADDR.server), and the WAN paths (isp1/isp2 by their IPv4 addresses). */
  server?: string;
  paths?: string;
}

/** redsocks.conf for redsocks-ts in the lab: the TCP section plus `redudp {}` and `dns {}` on both WAN paths. */
export function flowConf(o: FlowConfOptions = {}): string {
  const socks = o.socksPort ?? 1080;
  const server = o.server ?? ADDR.server;
  const dial = [
    '  mptcp = on;',
    `  paths = "${o.paths ?? `isp1 ${ADDR.wan1} dev wan1, isp2 ${ADDR.wan2} dev wan2`}";`,
    `  path_probe_interval = ${o.probeInterval ?? 500};`,
    `  path_probe_timeout = ${o.probeTimeout ?? 1000};`,
  ].join('\n');
  return [
    'base {',
    '  log_debug = off;',
    '  log_info = on;',
    '  log = stderr;',
    '  daemon = off;',
    '  redirector = iptables;',
    '}',
    'redsocks {',
    '  local_ip = "::";',
    '  local_port = 12345;',
    `  ip = "${server}";`,
    `  port = ${socks};`,
    '  type = socks5;',
    dial,
    '}',
    'redudp {',
    '  local_ip = "::";',
    `  local_port = ${REDUDP_PORT};`,
    `  ip = "${server}";`,
    `  port = ${socks};`,
    '  udp_timeout = 30;',
    dial,
    o.redudp ?? '',
    '}',
    ...(o.dns === false
      ? []
      : [
          'dns {',
          '  local_ip = "::";',
          `  local_port = ${DNS_PORT};`,
          `  ip = "${server}";`,
          `  port = ${socks};`,
          `  resolver_ip = ${o.resolver ?? ADDR.origin};`,
          dial,
          o.dns ?? '',
          '}',
        ]),
    '',
  ].join('\n');
}

/** redsocks-ts (compiled) in the gateway with `conf` (written into the lab dir). */
export async function startFlowRedsocks(lab: Lab, conf: string, name = 'redsocks-flows.conf'): Promise<Started> {
  const file = path.join(lab.dir, name);
  fs.writeFileSync(file, conf);
  return startDaemon(lab.ns.gw, 'redsocks-ts', [...daemonEntry('packages/redsocks-ts/dist/cli.js'), '-c', file], 12345);
}

/** The gateway's UDP sockets (`ss -Huan` lines by local address:port). */
export function udpSockets(lab: Lab): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lab.exec('gw', 'ss -Huan').split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    if (local) out.set(local, line);
  }
  return out;
}

/**
 * The ISP whose WAN address a redudp flow's UDP socket is bound to; with `except` (an earlier
 * udpSockets()), only sockets opened since count: each flow's association may start on another
 * equal-cost path, so an older idle flow can sit on the other ISP.
 */
export function udpPathOf(lab: Lab, except?: Map<string, string>): IspName | undefined {
  // a socket pinned to a path shows as ADDR%DEV:PORT
  const socks = [...udpSockets(lab)].filter(([local]) => !except?.has(local)).map(([, line]) => line).join('\n');
  for (const [isp, addr] of [['isp1', ADDR.wan1], ['isp2', ADDR.wan2]] as const) {
    if (new RegExp(`\\s${addr.replace(/\./g, '\\.')}(%\\w+)?:\\d+\\s`).test(`${socks}\n`)) return isp;
  }
  return undefined;
}

export interface FlowBench {
  lab: Lab;
  prof: LabProfile;
  /** The profile's isp1 RTT, ms. */
  rtt: number;
  /** Stopped at the end, whatever happens. */
  daemons: Started[];
}

/**
 * The frame of a flow bench: the lab of `profileName`, `mptcp-gateway setup` with `extra`, our
 * socks-server at the server's site; then `body`; then every daemon stopped and the lab destroyed.
 */
export async function runFlowBench(profileName: string, extra: string[], body: (b: FlowBench) => Promise<void>): Promise<void> {
  destroyLabsOnSignals();
  const prof = PROFILES[profileName];
  if (!prof) throw new Error(`no profile ${profileName}`);
  const lab = await Lab.create(prof);
  const daemons: Started[] = [];
  try {
    setupLab(lab, { compiled: preferCompiled(), extra });
    daemons.push(await startOurServer(lab));
    await body({ lab, prof, rtt: rttMs(prof.isp1), daemons });
  } finally {
    await stopAll(daemons).catch(() => undefined);
    lab.destroy();
  }
}
