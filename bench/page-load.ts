/**
 * Issue 17 benchmark: real-browser page loads in the two-ISP lab (docs/lab.md, "Page-load
 * benchmark"). Debian's headless `chromium`, a fresh browser and profile per load, `--loads`
 * loads per case; the onload time (navigation start to the load event) and its network part
 * (the onload time minus the median of a zero-delay run of the same page and case: links at
 * 0 ms, no rate limit, no loss, so what is left is the browser's and the hosts' own time).
 *   Pages (packages/lab/src/pages.ts): 1 = one origin, HTTP/1.1, 1 HTML + 40 objects (~620 KB);
 *   2 = 71 requests, ~2 MB, 12 origins, HTTPS, HTTP/2 and HTTP/1.1 mixed (nginx, lab CA).
 *   Cases: direct over one ISP (the browser on the gateway, default route isp1), the C pair
 *   (redsocks + Dante under mptcpize), ours with unchanged drop-in configs
 *   (conf/lab/*-dropin.conf), ours as shipped (conf/lab/redsocks.conf + danted.conf).
 * Besides onload, each row gives what the Resource Timing API says about the load: connections
 * opened, the HTML's TTFB, the median connection setup (TCP + TLS as the browser sees it) and the
 * median request-to-first-byte on an already open connection.
 * Prints numbers; never fails on speed.
 *   npx tsx bench/page-load.ts [--profiles equal-20,lossy-10,asym] [--cases direct,c,dropin,ours]
 *       [--pages 1,2] [--loads 15] [--floor-loads N] [--floor-only] [--cc bbr|cubic] [--server-initcwnd N] [--out FILE]
 *   --server-initcwnd N: the server host's routes (the remote namespace, where our socks-server and
 *     Dante both run) get `initcwnd N`: a tuning of the server host, the same for every proxied case.
 *   --floor-only: only the zero-delay loads (the daemons' and the browser's own time), as the rows.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  Lab, destroyLabsOnSignals, ROOT, PROFILES, LabProfile, setupLab, preferCompiled, ModeRunner, median, sleep,
  NODES, waitFor, startWebOrigin, pageLoads, type PageLoad, type Page, type WebOrigin, type Mode,
} from '@mptcp-proxy/lab';
import { cpuSeconds, processTree } from './proc-stats';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

function quantile(xs: number[], q: number): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (i - lo);
}

/** What one load's Resource Timing entries say about its connections and requests. */
export interface LoadDetail {
  onloadMs: number;
  ttfbMs: number;
  /** Connections the page opened (resources whose entry carries a connect; the HTML's counts as one). */
  conns: number;
  /** Median TCP connect + TLS of those connections, as the browser measured it. */
  setupMs: number;
  /** The most connections the browser started within any 100 ms (the burst a warm pool must serve). */
  burst: number;
  /** When each new connection started (ms from navigation start; the HTML's is 0). */
  connStarts: number[];
  /** Median request start to first response byte of the requests that reused an open connection. */
  reuseMs: number;
  bytes: number;
}

function detail(l: PageLoad): LoadDetail {
  const fresh = l.resources.filter((r) => r.connectEnd > r.connectStart && r.connectStart > 0);
  const reused = l.resources.filter((r) => !(r.connectEnd > r.connectStart) && r.requestStart > 0 && r.responseStart > 0);
  const starts = [0, ...fresh.map((r) => r.connectStart)].sort((a, b) => a - b);
  const burst = Math.max(...starts.map((t, i) => starts.filter((u, j) => j >= i && u < t + 100).length));
  return {
    onloadMs: l.onloadMs,
    ttfbMs: l.ttfbMs,
    conns: fresh.length + 1,
    burst,
    connStarts: starts.map((t) => Math.round(t)),
    setupMs: median(fresh.map((r) => r.connectEnd - r.connectStart)),
    reuseMs: median(reused.map((r) => r.responseStart - r.requestStart)),
    bytes: l.resources.reduce((a, r) => a + r.bytes, 0),
  };
}

interface Series {
  loads: LoadDetail[];
  failed: string[];
  /** CPU ms per load of the mode's daemons over the series. */
  cpuMs: number;
}

/** The warm pool's counters from redsocks-ts' SIGUSR1 dump (undefined without a pool). */
async function poolStats(mode: Mode): Promise<Record<string, number> | undefined> {
  const rs = mode.redsocks;
  if (!rs) return undefined;
  const before = rs.output().length;
  rs.proc.kill('SIGUSR1');
  await waitFor(() => rs.output().length > before && /pool size=|End of client list/.test(rs.output().slice(before)), 3000, 'the SIGUSR1 dump').catch(() => undefined);
  const line = /pool (size=.*)/.exec(rs.output().slice(before))?.[1];
  if (!line) return undefined;
  return Object.fromEntries([...line.matchAll(/(\w+)=(\d+)/g)].map((m) => [m[1], Number(m[2])]));
}

/** Downstream bytes and frames each ISP carried (the WAN emulators' counters). */
async function downBytes(lab: Lab): Promise<{ isp1: number; isp2: number; frames1: number; frames2: number }> {
  const [a, b] = [(await lab.linkStats('isp1')).down, (await lab.linkStats('isp2')).down];
  return { isp1: a.bytes, isp2: b.bytes, frames1: a.pass, frames2: b.pass };
}

interface Row {
  profile: string;
  page: string;
  case: string;
  label: string;
  floor: Series;
  run: Series;
  onloadMs: number;
  p10: number;
  p90: number;
  floorMs: number;
  netMs: number;
  conns: number;
  burst: number;
  ttfbMs: number;
  setupMs: number;
  reuseMs: number;
  /** Downstream KB and frames per load on each ISP. */
  downKB: { isp1: number; isp2: number };
  downFrames: { isp1: number; isp2: number };
  /** Pool hits and misses per load (ours with a warm pool). */
  pool?: { hits: number; misses: number };
  /** CPU ms per load of the case's daemons (redsocks and its SOCKS server, with Dante's children), in the run and at zero delay. */
  cpuMs: number;
  floorCpuMs: number;
}

const CASE_LABEL: Record<string, string> = { direct: 'direct (isp1)', c: 'C pair', dropin: 'ours drop-in', ours: 'ours shipped' };
const label = (name: string): string => CASE_LABEL[name] ?? name.replace(/^ours\+/, '+').replace(/\+/g, ' ');

/** CPU seconds the mode's daemons (and their children) have used so far. */
const daemonCpu = (mode: Mode): number => cpuSeconds(mode.daemons.flatMap((d) => (d.proc.pid ? processTree(d.proc.pid) : [])));

async function series(lab: Lab, mode: Mode, web: WebOrigin, page: Page, n: number): Promise<Series> {
  const out: Series = { loads: [], failed: [], cpuMs: 0 };
  const cpu0 = daemonCpu(mode);
  for (const l of await pageLoads(lab, mode.src.node, web, page, n)) {
    if (l.ok) out.loads.push(detail(l));
    else out.failed.push(l.error ?? 'failed');
  }
  out.cpuMs = ((daemonCpu(mode) - cpu0) * 1000) / Math.max(1, n);
  return out;
}

/** `initcwnd n` on every route of namespace `node` (docs/lab.md, "Page-load results": the server host's initial window). */
function setInitcwnd(lab: Lab, node: (typeof NODES)[number], n: number): void {
  for (const route of lab.exec(node, 'ip route show').split('\n').filter((l) => l.trim() !== '')) {
    lab.exec(node, `ip route change ${route.replace(/ initcwnd \d+/, '').trim()} initcwnd ${n}`);
  }
}

/** The same links with no delay, no rate limit and no loss (the floor: browser and host time). */
async function zeroDelay(lab: Lab): Promise<void> {
  for (const isp of ['isp1', 'isp2'] as const) await lab.setLink(isp, { delayMs: 0, rateMbit: 0, lossPct: 0 });
}

async function restoreProfile(lab: Lab, prof: LabProfile): Promise<void> {
  for (const isp of ['isp1', 'isp2'] as const) await lab.setLink(isp, { up: prof[isp].up, down: prof[isp].down });
}

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '-');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');

function printRows(rows: Row[]): void {
  const W = Math.max(15, ...rows.map((r) => r.label.length + 2));
  console.log(
    `${'page'.padEnd(6)}${'case'.padEnd(W)}${'onload ms (p10..p90)'.padEnd(24)}${'floor'.padStart(6)}${'net'.padStart(7)}` +
      `${'x direct'.padStart(10)}${'net x dir'.padStart(10)}${'x C'.padStart(7)}${'conns'.padStart(7)}${'burst'.padStart(7)}${'TTFB'.padStart(7)}${'setup'.padStart(7)}${'reuse'.padStart(7)}${'down KB isp1/isp2'.padStart(19)}${'pool hit/miss'.padStart(15)}${'cpu ms'.padStart(12)}  ok`,
  );
  for (const r of rows) {
    const dir = rows.find((x) => x.page === r.page && x.case === 'direct');
    const c = rows.find((x) => x.page === r.page && x.case === 'c');
    console.log(
      `${r.page.padEnd(6)}${r.label.padEnd(W)}${`${f0(r.onloadMs)} (${f0(r.p10)}..${f0(r.p90)})`.padEnd(24)}${f0(r.floorMs).padStart(6)}${f0(r.netMs).padStart(7)}` +
        `${(dir ? f2(r.onloadMs / dir.onloadMs) : '-').padStart(10)}${(dir ? f2(r.netMs / dir.netMs) : '-').padStart(10)}${(c ? f2(r.onloadMs / c.onloadMs) : '-').padStart(7)}` +
        `${f0(r.conns).padStart(7)}${f0(r.burst).padStart(7)}${f0(r.ttfbMs).padStart(7)}${f0(r.setupMs).padStart(7)}${f0(r.reuseMs).padStart(7)}` +
        `${`${f0(r.downKB.isp1)}/${f0(r.downKB.isp2)}`.padStart(19)}${(r.pool ? `${r.pool.hits.toFixed(1)}/${r.pool.misses.toFixed(1)}` : '-').padStart(15)}${`${f0(r.cpuMs)}/${f0(r.floorCpuMs)}`.padStart(12)}  ${r.run.loads.length}/${r.run.loads.length + r.run.failed.length}` +
        (r.run.failed.length ? `  (${[...new Set(r.run.failed)].join('; ').slice(0, 120)})` : ''),
    );
  }
}

async function benchProfile(prof: LabProfile, cases: string[], pages: string[], loads: number, floorLoads: number, cc: string, floorOnly: boolean, initcwnd: number): Promise<Row[]> {
  const lab = await Lab.create(prof, { origin: false });
  const runner = new ModeRunner(lab);
  const rows: Row[] = [];
  try {
    setupLab(lab, { compiled: preferCompiled() });
    if (cc) for (const n of NODES) lab.exec(n, `sysctl -qw net.ipv4.tcp_congestion_control=${cc}`);
    if (initcwnd) setInitcwnd(lab, 'remote', initcwnd);
    const web = await startWebOrigin(lab);
    const usedCc = lab.exec('gw', 'sysctl -n net.ipv4.tcp_congestion_control').trim();
    console.log(`\nprofile ${prof.name}: ${prof.description}; congestion control ${usedCc}${initcwnd ? `; server host initcwnd ${initcwnd}` : ''}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    for (const p of [web.page1, web.page2].filter((x) => pages.includes(x.name.replace('page', '')))) {
      console.log(`  ${p.name}: ${p.url}, ${p.requests} requests, ${(p.bytes / 1024).toFixed(0)} KB, ${p.origins.length} origin(s) (${p.origins.map((o) => `${o.host} ${o.tls ? 'https ' : ''}${o.http}`).join(', ')})`);
    }
    for (const name of cases) {
      const mode = await runner.start(name);
      try {
        await sleep(1000);
        for (const page of [web.page1, web.page2]) {
          const pn = page.name.replace('page', '');
          if (!pages.includes(pn)) continue;
          await zeroDelay(lab);
          await series(lab, mode, web, page, 1); // warm-up: JIT of the daemons, the browser's disk cache of its own files
          // pool and WAN counters before the loads that are the row's run
          const counters = async (): Promise<[Record<string, number> | undefined, Awaited<ReturnType<typeof downBytes>>]> => [await poolStats(mode), await downBytes(lab)];
          // --floor-only: the zero-delay loads are the run (the daemons' own cost, no WAN)
          const floorStart = floorOnly ? await counters() : undefined;
          const floor = await series(lab, mode, web, page, floorLoads);
          if (!floorOnly) {
            await restoreProfile(lab, prof);
            await sleep(1500); // path probes see the profile's RTTs again
          }
          const [pool0, down0] = floorStart ?? (await counters());
          const run = floorOnly ? floor : await series(lab, mode, web, page, loads);
          const down1 = await downBytes(lab);
          const pool1 = await poolStats(mode);
          const n = Math.max(1, run.loads.length + run.failed.length);
          const on = run.loads.map((l) => l.onloadMs);
          const floorMs = median(floor.loads.map((l) => l.onloadMs));
          const row: Row = {
            profile: prof.name, page: page.name, case: name, label: label(name), floor, run,
            onloadMs: median(on), p10: quantile(on, 0.1), p90: quantile(on, 0.9), floorMs, netMs: median(on) - floorMs,
            conns: median(run.loads.map((l) => l.conns)), burst: median(run.loads.map((l) => l.burst)), ttfbMs: median(run.loads.map((l) => l.ttfbMs)),
            setupMs: median(run.loads.map((l) => l.setupMs)), reuseMs: median(run.loads.map((l) => l.reuseMs)),
            downKB: { isp1: (down1.isp1 - down0.isp1) / 1024 / n, isp2: (down1.isp2 - down0.isp2) / 1024 / n },
            downFrames: { isp1: (down1.frames1 - down0.frames1) / n, isp2: (down1.frames2 - down0.frames2) / n },
            pool: pool0 && pool1 ? { hits: (pool1.hits - pool0.hits) / n, misses: (pool1.misses - pool0.misses) / n } : undefined,
            cpuMs: run.cpuMs, floorCpuMs: floor.cpuMs,
          };
          rows.push(row);
          console.log(`  [${prof.name}] ${page.name} ${row.label}: onload ${f0(row.onloadMs)} ms (${f0(row.p10)}..${f0(row.p90)}), floor ${f0(floorMs)}, net ${f0(row.netMs)}, ${run.loads.length}/${loads} ok`);
        }
      } finally {
        await mode.stop();
      }
    }
    web.stop();
    console.log(`\nprofile ${prof.name}, ${loads} loads per case (floor: ${floorLoads} at zero delay); load average after ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    console.log('onload = median navigation start -> load event (p10..p90); floor = zero-delay median; net = onload - floor; conns/TTFB/setup/reuse = medians per load;\n' +
      'burst = most connections started within 100 ms; setup = TCP connect + TLS of a new connection; reuse = request -> first byte on an open connection; down KB = downstream bytes per load on each ISP; pool = hits/misses per load;\n' +
        'cpu ms = CPU time per load of the case\'s two daemons (with Dante\'s children), in the run / at zero delay');
    printRows(rows);
  } finally {
    await runner.close();
    lab.destroy();
  }
  return rows;
}

async function main(): Promise<void> {
  destroyLabsOnSignals();
  const profiles = arg('profiles', 'equal-20,lossy-10,asym').split(',');
  const cases = arg('cases', 'direct,c,dropin,ours').split(',');
  const pages = arg('pages', '1,2').split(',');
  const loads = Number(arg('loads', '15'));
  const floorLoads = Number(arg('floor-loads', String(loads)));
  const cc = arg('cc', '');
  const all: Row[] = [];
  for (const p of profiles) {
    const prof = PROFILES[p];
    if (!prof) throw new Error(`unknown profile ${p}`);
    all.push(...(await benchProfile(prof, cases, pages, loads, floorLoads, cc, process.argv.includes('--floor-only'), Number(arg('server-initcwnd', '0')))));
  }
  const out = arg('out', path.join(ROOT, 'bench/out/page-load.json'));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(all, null, 2));
  console.log(`\n(results in ${path.relative(ROOT, out)})`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : String(e));
  process.exit(1);
});
