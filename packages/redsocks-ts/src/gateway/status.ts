/**
 * `mptcp-gateway status [--watch]`: the operator's view of the bond, read from the metrics
 * endpoints (docs/metrics.md: why the endpoint and not a control socket). One implementation:
 * the lab's live view (`npm run demo`) is this module with the lab's fetch.
 *
 * statusFromMetrics() and renderStatus() are pure: samples in, lines out. Rates (throughput,
 * retransmissions per second) come from two successive snapshots.
 */
import * as http from 'node:http';
import { parseMetricsText, sumOf, type MetricSample } from '@mptcp-proxy/common';

export interface PathStatus {
  name: string;
  source?: string;
  state: 'up' | 'down' | 'unknown';
  connectRttMs: number | null;
  subflowRttMs: number | null;
  subflows: number;
  connections: number;
  retrans: number;
  /** Cumulative bytes: the device's counters when the path names one, else its subflows'. */
  bytesUp: number;
  bytesDown: number;
  bytesFrom: 'device' | 'subflows';
}

export interface ServerStatus {
  active: number;
  total: number;
  refused: number;
  closed: Record<string, number>;
  ocAccepted: number;
  ocDeclined: number;
}

export interface GatewayStatus {
  /** Epoch ms of the scrape. */
  t: number;
  paths: PathStatus[];
  active: number;
  total: number;
  /** Closed connections by outcome, and by `outcome code` for the ones with a code. */
  closed: Record<string, number>;
  codes: Record<string, number>;
  handshake: { count: number; sumS: number };
  pool: { size: number; idle: number; hits: number; misses: number };
  verdicts: Array<{ server: string; verdict: string }>;
  server?: ServerStatus;
}

function byLabel(samples: readonly MetricSample[], name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (s.name !== name) continue;
    const k = s.labels[label] ?? '';
    out[k] = (out[k] ?? 0) + s.value;
  }
  return out;
}

function serverStatus(m: readonly MetricSample[]): ServerStatus {
  const oc = byLabel(m, 'socks_server_optimistic_verdicts_total', 'verdict');
  return {
    active: sumOf(m, 'socks_server_connections_active'),
    total: sumOf(m, 'socks_server_connections_total'),
    refused: sumOf(m, 'socks_server_connections_refused_total'),
    closed: byLabel(m, 'socks_server_connections_closed_total', 'outcome'),
    ocAccepted: oc.accepted ?? 0,
    ocDeclined: oc.declined ?? 0,
  };
}

/** The status a scrape of redsocks-ts (and optionally of socks-server) shows. */
export function statusFromMetrics(t: number, gw: readonly MetricSample[], srv?: readonly MetricSample[]): GatewayStatus {
  const names = new Set<string>();
  for (const s of gw) if (s.name.startsWith('redsocks_path_') && s.labels.path !== undefined) names.add(s.labels.path);
  const paths: PathStatus[] = [...names].map((name) => {
    const p = { path: name };
    const up = gw.find((s) => s.name === 'redsocks_path_up' && s.labels.path === name);
    const has = (n: string): boolean => gw.some((s) => s.name === n && s.labels.path === name);
    const dev = has('redsocks_path_interface_bytes_total');
    const bytesName = dev ? 'redsocks_path_interface_bytes_total' : 'redsocks_path_subflow_bytes_total';
    return {
      name,
      source: up?.labels.source,
      state: up === undefined || up.value < 0 ? 'unknown' : up.value > 0 ? 'up' : 'down',
      connectRttMs: has('redsocks_path_connect_rtt_seconds') ? sumOf(gw, 'redsocks_path_connect_rtt_seconds', p) * 1000 : null,
      subflowRttMs: has('redsocks_path_subflow_rtt_seconds') ? sumOf(gw, 'redsocks_path_subflow_rtt_seconds', p) * 1000 : null,
      subflows: sumOf(gw, 'redsocks_path_subflows', p),
      connections: sumOf(gw, 'redsocks_path_connections', p),
      retrans: sumOf(gw, 'redsocks_path_retransmits_total', p),
      bytesUp: sumOf(gw, bytesName, { ...p, direction: 'up' }),
      bytesDown: sumOf(gw, bytesName, { ...p, direction: 'down' }),
      bytesFrom: dev ? 'device' : 'subflows',
    } satisfies PathStatus;
  });
  const codes: Record<string, number> = {};
  for (const s of gw) {
    if (s.name === 'redsocks_connections_closed_total' && s.labels.code) {
      const k = `${s.labels.outcome} ${s.labels.code}`;
      codes[k] = (codes[k] ?? 0) + s.value;
    }
  }
  const pool = byLabel(gw, 'redsocks_pool_requests_total', 'result');
  const st: GatewayStatus = {
    t,
    paths,
    active: sumOf(gw, 'redsocks_connections_active'),
    total: sumOf(gw, 'redsocks_connections_total'),
    closed: byLabel(gw, 'redsocks_connections_closed_total', 'outcome'),
    codes,
    handshake: { count: sumOf(gw, 'redsocks_handshake_seconds_count'), sumS: sumOf(gw, 'redsocks_handshake_seconds_sum') },
    pool: {
      size: sumOf(gw, 'redsocks_pool_connections', { state: 'size' }),
      idle: sumOf(gw, 'redsocks_pool_connections', { state: 'idle' }),
      hits: pool.hit ?? 0,
      misses: pool.miss ?? 0,
    },
    verdicts: gw.filter((s) => s.name === 'redsocks_optimistic_verdict' && s.value === 1).map((s) => ({ server: s.labels.server ?? '?', verdict: s.labels.verdict ?? '?' })),
  };
  if (srv) st.server = serverStatus(srv);
  return st;
}

/** Per-path throughput (Mbit/s) and retransmissions per second between two snapshots. */
export function pathRates(cur: GatewayStatus, prev: GatewayStatus | undefined): Map<string, { downMbit: number; upMbit: number; retransPerS: number }> {
  const out = new Map<string, { downMbit: number; upMbit: number; retransPerS: number }>();
  const dt = prev ? (cur.t - prev.t) / 1000 : 0;
  for (const p of cur.paths) {
    const q = prev?.paths.find((x) => x.name === p.name);
    if (!q || dt <= 0) {
      out.set(p.name, { downMbit: NaN, upMbit: NaN, retransPerS: NaN });
      continue;
    }
    const rate = (a: number, b: number): number => (a >= b ? ((a - b) * 8) / dt / 1e6 : NaN);
    out.set(p.name, { downMbit: rate(p.bytesDown, q.bytesDown), upMbit: rate(p.bytesUp, q.bytesUp), retransPerS: p.retrans >= q.retrans ? (p.retrans - q.retrans) / dt : NaN });
  }
  return out;
}

const num = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const ms = (x: number | null): string => (x === null ? '-' : x.toFixed(0));
const mb = (b: number): string => (b / 1e6).toFixed(1);
const list = (r: Record<string, number>): string =>
  Object.entries(r).filter(([, v]) => v > 0).map(([k, v]) => `${k || '-'} ${v}`).join(', ') || 'none';

function stateText(s: PathStatus['state'], color: boolean): string {
  const t = s === 'up' ? 'up' : s === 'down' ? 'DOWN' : 'unknown';
  if (!color) return t.padEnd(7);
  return s === 'up' ? `\x1b[32m${t.padEnd(7)}\x1b[0m` : s === 'down' ? `\x1b[31m${t.padEnd(7)}\x1b[0m` : t.padEnd(7);
}

/** The full view: one row per WAN path, then connections, pool, optimistic connect, the server. */
export function renderStatus(cur: GatewayStatus, prev?: GatewayStatus, opts: { color?: boolean } = {}): string[] {
  const rates = pathRates(cur, prev);
  const lines: string[] = [];
  lines.push(`${'path'.padEnd(8)} ${'state'.padEnd(7)} ${'rtt connect/subflow'.padStart(19)} ${'retrans/s'.padStart(9)} ${'subflows'.padStart(8)} ${'conns'.padStart(5)} ${'down Mbit/s'.padStart(11)} ${'up Mbit/s'.padStart(9)} ${'down MB'.padStart(9)} ${'up MB'.padStart(8)}`);
  if (cur.paths.length === 0) lines.push('(no WAN paths: set `paths` in the redsocks section, or no MPTCP subflow seen yet)');
  for (const p of cur.paths) {
    const r = rates.get(p.name)!;
    lines.push(
      `${p.name.padEnd(8)} ${stateText(p.state, opts.color === true)} ${`${ms(p.connectRttMs)} / ${ms(p.subflowRttMs)} ms`.padStart(19)} ${num(r.retransPerS).padStart(9)} ` +
        `${String(p.subflows).padStart(8)} ${String(p.connections).padStart(5)} ${num(r.downMbit).padStart(11)} ${num(r.upMbit).padStart(9)} ` +
        `${mb(p.bytesDown).padStart(9)} ${mb(p.bytesUp).padStart(8)}${p.bytesFrom === 'subflows' ? ' (subflows)' : ''}`,
    );
  }
  const hs = cur.handshake.count > 0 ? `, handshake mean ${((cur.handshake.sumS / cur.handshake.count) * 1000).toFixed(0)} ms` : '';
  lines.push(`connections: ${cur.active} active, ${cur.total} total; closed: ${list(cur.closed)}${hs}`);
  const codes = list(cur.codes);
  if (codes !== 'none') lines.push(`  errors: ${codes}`);
  if (cur.pool.size > 0 || cur.pool.hits + cur.pool.misses > 0) {
    lines.push(`pool: ${cur.pool.idle}/${cur.pool.size} ready, hits ${cur.pool.hits}, misses ${cur.pool.misses}`);
  }
  for (const v of cur.verdicts) {
    const what = v.verdict === 'oc' ? 'speaks optimistic connect' : v.verdict === 'pipeline' ? 'pipelined RFC 1928 (no optimistic connect)' : 'sequential (broke on pipelined input)';
    lines.push(`server ${v.server}: ${what}`);
  }
  const s = cur.server;
  if (s) {
    lines.push(`server side: ${s.active} active, ${s.total} total, ${s.refused} refused at accept; closed: ${list(s.closed)}; optimistic connect accepted ${s.ocAccepted}, declined ${s.ocDeclined}`);
  }
  return lines;
}

/** One line per tick (logs, a pipe, the demo without a TTY). */
export function renderStatusLine(cur: GatewayStatus, prev?: GatewayStatus): string {
  const rates = pathRates(cur, prev);
  const paths = cur.paths.map((p) => {
    const r = rates.get(p.name)!;
    const rtt = p.subflowRttMs ?? p.connectRttMs;
    return `${p.name} ${p.state === 'up' ? 'up' : p.state === 'down' ? 'DOWN' : '?'} down ${num(r.downMbit)} up ${num(r.upMbit)} Mbit/s subflows ${p.subflows} rtt ${ms(rtt)} ms`;
  });
  return `${paths.join(' | ')} | conns ${cur.active}`;
}

/** GET a metrics endpoint's text (`host:port`, or a full http:// URL). */
export function fetchMetricsText(where: string, timeoutMs = 3000): Promise<string> {
  const url = /^https?:\/\//.test(where) ? where : `http://${where}/metrics`;
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`${url}: HTTP ${res.statusCode}`));
        return;
      }
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'ECONNREFUSED' ? ' (is the daemon running with its metrics on? docs/metrics.md)' : '';
      reject(new Error(`${url}: ${e.message}${hint}`));
    });
  });
}

export interface StatusSources {
  gateway: () => Promise<string>;
  server?: () => Promise<string>;
}

/**
 * One snapshot from the sources, both scraped at once. The server's scrape failing (the path to
 * it may be the one that is down) is shown, not fatal.
 */
export async function statusSnapshot(src: StatusSources, now = Date.now): Promise<{ status: GatewayStatus; serverError?: string }> {
  const server = src.server?.().then((text) => ({ text }), (e: Error) => ({ error: e.message }));
  const gwText = await src.gateway();
  const t = now();
  const r = await server;
  let srv: MetricSample[] | undefined;
  let serverError: string | undefined;
  if (r && 'text' in r) {
    try {
      srv = parseMetricsText(r.text);
    } catch (e) {
      serverError = (e as Error).message;
    }
  } else if (r) serverError = r.error;
  return { status: statusFromMetrics(t, parseMetricsText(gwText), srv), serverError };
}

/**
 * Snapshots every `intervalMs`, handed to `draw` with the previous one. Used by `status --watch`
 * and by the lab's live view. A failed scrape is reported to `onError` and retried next tick.
 */
export class StatusWatch {
  private timer: NodeJS.Timeout | undefined;
  private prev: GatewayStatus | undefined;
  private busy = false;

  constructor(
    private readonly src: StatusSources,
    private readonly draw: (cur: GatewayStatus, prev: GatewayStatus | undefined, serverError?: string) => void,
    private readonly onError: (e: Error) => void,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    if (this.timer) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const { status, serverError } = await statusSnapshot(this.src);
      if (!this.timer) return;
      this.draw(status, this.prev, serverError);
      this.prev = status;
    } catch (e) {
      if (this.timer) this.onError(e as Error);
    } finally {
      this.busy = false;
    }
  }
}
