/** Measured scenarios shared by the demo and the benches (they print; nothing here asserts). */
import { parseNetstat } from 'redsocks-ts';
import { waitFor } from './wait';
import { Lab, IFACES, IspName, NodeName } from './lab';
import { curlSmall, CurlTiming, mbit, sleep, transfer, TransferResult } from './traffic';

/** Where the traffic comes from: the LAN client through the proxy pair, or the gateway itself bound to one ISP. */
export interface Source {
  node: 'lan' | 'gw';
  local?: string;
}

export function wanRxBytes(lab: Lab): number {
  return wanBytes(lab, 'rx');
}

/** Bytes the gateway's two WAN interfaces received (rx) or sent (tx). */
export function wanBytes(lab: Lab, dir: 'rx' | 'tx'): number {
  const b = lab.ifBytes('gw');
  return (b[IFACES.wan1]?.[dir] ?? 0) + (b[IFACES.wan2]?.[dir] ?? 0);
}

export async function ttfbSeries(lab: Lab, src: Source, n: number): Promise<CurlTiming[]> {
  const out: CurlTiming[] = [];
  for (let i = 0; i < n; i++) out.push(await curlSmall(lab, src.node, { local: src.local }));
  return out;
}

export interface FailoverResult {
  transfer: TransferResult;
  cutAtBytes: number;
  outageMs: number;
  newOk: number;
  newTtfb: number[];
}

/**
 * A download of `bytes`; once a third of it has arrived, `isp` is cut for at least
 * `outageMs`, during which `attempts` new small requests are made one after another
 * (or all at once when `parallel`). Then the link is restored and the download awaited.
 */
export async function failoverRun(
  lab: Lab,
  src: Source,
  bytes: number,
  isp: IspName,
  opts: { outageMs?: number; attempts?: number; parallel?: boolean; attemptTimeoutS?: number; log?: (s: string) => void } = {},
): Promise<FailoverResult> {
  const log = opts.log ?? (() => undefined);
  const base = wanRxBytes(lab);
  const dl = transfer(lab, src.node, 'get', bytes, { local: src.local, timeoutMs: 90000 });
  let finished = false;
  void dl.then(() => (finished = true));
  await waitFor(() => finished || wanRxBytes(lab) - base >= bytes / 3, 60000, 'the download to get going').catch(() => undefined);
  const cutAtBytes = wanRxBytes(lab) - base;
  const t0 = Date.now();
  await lab.cut(isp);
  log(`${isp} cut after ${(cutAtBytes / 1e6).toFixed(1)} MB`);
  const attempts = opts.attempts ?? 5;
  const tmo = opts.attemptTimeoutS ?? 3;
  let results: CurlTiming[];
  if (opts.parallel) {
    results = await Promise.all(Array.from({ length: attempts }, () => curlSmall(lab, src.node, { local: src.local, timeoutS: tmo })));
  } else {
    results = [];
    for (let i = 0; i < attempts; i++) results.push(await curlSmall(lab, src.node, { local: src.local, timeoutS: tmo }));
  }
  const ok = results.filter((r) => r.ok);
  log(`${ok.length}/${attempts} new connections succeeded while ${isp} was down`);
  const left = (opts.outageMs ?? 4000) - (Date.now() - t0);
  if (left > 0) await sleep(left);
  const outageMs = Date.now() - t0;
  await lab.restore(isp);
  log(`${isp} restored after ${(outageMs / 1000).toFixed(1)} s`);
  const t = await dl;
  log(`download ${t.ok ? 'completed' : `FAILED (${t.error})`} in ${(t.ms / 1000).toFixed(1)} s, longest stall ${(t.maxStallMs / 1000).toFixed(2)} s`);
  return { transfer: t, cutAtBytes, outageMs, newOk: ok.length, newTtfb: ok.map((r) => r.ttfbMs) };
}

/** TTFB of small requests while a bulk download saturates the links (head-of-line). */
/**
 * Small requests (`n`, one after another) while a bulk transfer runs: a download (`get`, the
 * default) or an upload (`post`) of `bulkBytes`, started first and under way before they begin.
 */
export async function ttfbUnderLoad(
  lab: Lab,
  src: Source,
  bulkBytes: number,
  n: number,
  kind: 'get' | 'post' = 'get',
): Promise<{ ttfb: CurlTiming[]; bulk: TransferResult }> {
  const dir = kind === 'get' ? 'rx' : 'tx';
  const base = wanBytes(lab, dir);
  const bulk = transfer(lab, src.node, kind, bulkBytes, { local: src.local, timeoutMs: 90000 });
  let finished = false;
  void bulk.then(() => (finished = true));
  await waitFor(() => finished || wanBytes(lab, dir) - base >= Math.min(2e6, bulkBytes / 4), 60000, 'bulk to start').catch(() => undefined);
  const ttfb: CurlTiming[] = [];
  for (let i = 0; i < n && !finished; i++) ttfb.push(await curlSmall(lab, src.node, { local: src.local, timeoutS: 10 }));
  return { ttfb, bulk: await bulk };
}

export interface OutageTtfb {
  isp: IspName;
  ok: number;
  attempts: number;
  /** TTFB of each successful request, in the order made (the first one is right after the cut). */
  ttfbMs: number[];
}

/**
 * New connections during an outage of `isp` with nothing else running: the link is cut, then
 * `attempts` small requests are made one after another, then it is restored. Without a bulk
 * transfer, the surviving link's queue is empty, so the TTFB is comparable with the normal
 * one (during a running download it also pays that download's queueing delay: see
 * failoverRun and ttfbUnderLoad).
 */
export async function outageTtfb(lab: Lab, src: Source, isp: IspName, attempts = 5, timeoutS = 3, firstAfterMs = 0): Promise<OutageTtfb> {
  await lab.cut(isp);
  // The first request this long after the cut (0: at once), to see what the gateway learnt meanwhile.
  if (firstAfterMs > 0) await sleep(firstAfterMs);
  const out: CurlTiming[] = [];
  try {
    for (let i = 0; i < attempts; i++) out.push(await curlSmall(lab, src.node, { local: src.local, timeoutS }));
  } finally {
    await lab.restore(isp);
  }
  // Let the path come back (probes, neighbour entry) before the next scenario.
  await sleep(1500);
  const ok = out.filter((r) => r.ok);
  return { isp, ok: ok.length, attempts, ttfbMs: ok.map((r) => r.ttfbMs) };
}

/** Bytes received on each WAN interface of the gateway while `run` runs. */
export async function wanSplit<T>(lab: Lab, run: () => Promise<T>): Promise<{ result: T; wan1: number; wan2: number }> {
  const b0 = lab.ifBytes('gw');
  const result = await run();
  const b1 = lab.ifBytes('gw');
  const d = (dev: string): number => (b1[dev]?.rx ?? 0) - (b0[dev]?.rx ?? 0);
  return { result, wan1: d(IFACES.wan1), wan2: d(IFACES.wan2) };
}

export interface LinkCeiling {
  isp: IspName;
  downMbit: number;
  upMbit: number;
}

/**
 * The ceiling to compare bonding with: ONE plain TCP flow per link (from the gateway, bound to
 * that WAN's address), measured with the same client and the same transfer length as the
 * bonded flows, so that slow start and the goodput-per-frame are counted the same way.
 */
export async function linkCeilings(lab: Lab, seconds: number): Promise<LinkCeiling[]> {
  const out: LinkCeiling[] = [];
  for (const isp of ['isp1', 'isp2'] as const) {
    const local = isp === 'isp1' ? lab.addr.wan1 : lab.addr.wan2;
    const p = lab.profile[isp];
    const size = (rate: number): number => Math.max(2, Math.round((rate * seconds) / 8)) * 1e6;
    const down = await transfer(lab, 'gw', 'get', size(p.down.rateMbit), { local, timeoutMs: 90000 });
    const up = await transfer(lab, 'gw', 'post', size(p.up.rateMbit), { local, timeoutMs: 90000 });
    out.push({
      isp,
      downMbit: down.ok ? mbit(down.bytes, down.ms - down.ttfbMs) : NaN,
      upMbit: up.ok ? mbit(up.bytes, up.ms) : NaN,
    });
  }
  return out;
}

/** The MPTcpExt counters of a namespace (/proc/net/netstat), e.g. MPJoinSynAckRx. */
export function mptcpCounters(lab: Lab, node: NodeName): Record<string, number> {
  return parseNetstat(lab.exec(node, 'cat /proc/net/netstat'), 'MPTcpExt');
}

/**
 * What the gateway's MPTCP did while `run` ran: connections opened, fallbacks to TCP, joins,
 * and SYNs sent without MP_CAPABLE because the kernel's blackhole detection had switched
 * active MPTCP off (net.mptcp.blackhole_timeout; `mptcp-gateway setup` sets 0).
 */
export async function mptcpActivity<T>(lab: Lab, run: () => Promise<T>): Promise<{ result: T; capable: number; fallback: number; joins: number; disabled: number }> {
  const c0 = mptcpCounters(lab, 'gw');
  const result = await run();
  const c1 = mptcpCounters(lab, 'gw');
  const d = (k: string): number => (c1[k] ?? 0) - (c0[k] ?? 0);
  return {
    result,
    capable: d('MPCapableSYNACKRX'),
    fallback: d('MPCapableFallbackSYNACK'),
    joins: d('MPJoinSynAckRx'),
    disabled: d('MPCapableSYNTXDisabled'),
  };
}
