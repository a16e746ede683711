/** Measured scenarios shared by the demo and the benches (they print; nothing here asserts). */
import { waitFor } from '../helpers/netns';
import { Lab, IFACES, IspName } from './lab';
import { curlSmall, CurlTiming, sleep, transfer, TransferResult } from './traffic';

/** Where the traffic comes from: the LAN client through the proxy pair, or the gateway itself bound to one ISP. */
export interface Source {
  node: 'lan' | 'gw';
  local?: string;
}

export function wanRxBytes(lab: Lab): number {
  const b = lab.ifBytes('gw');
  return (b[IFACES.wan1]?.rx ?? 0) + (b[IFACES.wan2]?.rx ?? 0);
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
export async function ttfbUnderLoad(lab: Lab, src: Source, bulkBytes: number, n: number): Promise<{ ttfb: CurlTiming[]; bulk: TransferResult }> {
  const base = wanRxBytes(lab);
  const bulk = transfer(lab, src.node, 'get', bulkBytes, { local: src.local, timeoutMs: 90000 });
  let finished = false;
  void bulk.then(() => (finished = true));
  await waitFor(() => finished || wanRxBytes(lab) - base >= Math.min(2e6, bulkBytes / 4), 60000, 'bulk to start').catch(() => undefined);
  const ttfb: CurlTiming[] = [];
  for (let i = 0; i < n && !finished; i++) ttfb.push(await curlSmall(lab, src.node, { local: src.local, timeoutS: 10 }));
  return { ttfb, bulk: await bulk };
}
