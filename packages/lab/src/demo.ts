/**
 * The README's main job, on one machine: a two-ISP lab, the gateway configured by
 * `mptcp-gateway setup`, redsocks-ts + socks-server carrying every LAN connection over MPTCP,
 * and real traffic (pages, a download, an upload, an ISP cut and restore) with live per-link
 * numbers, ending in a direct-vs-bonded summary.
 *   npm run demo [-- --profile equal-20|lossy-10|asym] [--pair ours|c]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, ADDR, destroyLabsOnSignals } from './lab';
import { ROOT } from './paths';
import { failoverRun, FailoverResult, outageTtfb } from './scenarios';
import { PROFILES, rttMs } from './profiles';
import { gatewayCli, labSetupArgs } from './gateway';
import { stopAll, type Started as Daemon } from './daemons';
import {
  C_REDSOCKS_PORT, C_SOCKS_PORT, OUR_REDSOCKS_PORT, OUR_SOCKS_PORT, oursBuilt, startCPair, startOurRedsocks, startOurServer,
} from './pairs';
import { LAB_METRICS_PORT, LiveView, sparkPlot } from './live-view';
import { curlSmall, median, mbit, transfer, TransferResult } from './traffic';
import { pageLoads, startWebOrigin } from './web-origin';
import type { Page } from './pages';

interface Opts {
  profile: string;
  pair: 'ours' | 'c' | 'auto';
}

function parseOpts(argv: string[]): Opts {
  const o: Opts = { profile: 'equal-20', pair: 'auto' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = a.includes('=') ? a.split('=')[1] : argv[i + 1];
    if (a.startsWith('--profile')) o.profile = v;
    else if (a.startsWith('--pair')) o.pair = v as Opts['pair'];
    else if (a === '-h' || a === '--help') {
      console.log(`usage: npm run demo -- [--profile ${Object.keys(PROFILES).join('|')}] [--pair ours|c]`);
      process.exit(0);
    } else continue;
    if (!a.includes('=')) i++;
  }
  if (!PROFILES[o.profile]) throw new Error(`unknown profile ${o.profile}`);
  return o;
}

/**
 * conf/lab/redsocks.conf is conf/redsocks.conf as shipped (pool_size, optimistic and paths auto);
 * without the pool every bonded request paid a fresh MPTCP connect and the demo printed a
 * small-request TTFB of 2.3 RTT (packages/redsocks-ts/docs/fast-by-default.md §3, "The demo's
 * first requests").
 */
const DEMO_REDSOCKS_KEYS = { 'base.metrics_port': String(LAB_METRICS_PORT) };

/** Page loads per side in the demo (bench/page-load.ts does 15 per case). */
const PAGE_LOADS = 3;

const b = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

async function startPair(lab: Lab, want: Opts['pair']): Promise<{ daemons: Daemon[]; label: string; redsocksPort: number; socksPort: number }> {
  const built = oursBuilt();
  const haveServer = fs.existsSync(path.join(ROOT, 'packages/socks-server/dist/cli.js'));
  const haveRedsocks = fs.existsSync(path.join(ROOT, 'packages/redsocks-ts/dist/cli.js'));
  if (want === 'c' || (want === 'auto' && !haveRedsocks)) {
    if (want === 'auto') console.log(`(redsocks-ts is not built: ${built.why}; showing the C pair)`);
    return { daemons: await startCPair(lab), label: 'redsocks + Dante (C, mptcpize)', redsocksPort: C_REDSOCKS_PORT, socksPort: C_SOCKS_PORT };
  }
  if (haveServer) {
    const srv = await startOurServer(lab);
    const rs = await startOurRedsocks(lab, DEMO_REDSOCKS_KEYS);
    return { daemons: [srv, rs], label: 'redsocks-ts + socks-server', redsocksPort: OUR_REDSOCKS_PORT, socksPort: OUR_SOCKS_PORT };
  }
  if (want === 'ours') throw new Error('socks-server is not built (packages/socks-server/dist/cli.js)');
  console.log('(socks-server is not built yet: redsocks-ts talks to Dante under mptcpize)');
  const [dante, crs] = await startCPair(lab);
  await crs.stop();
  const rs = await startOurRedsocks(lab, { ...DEMO_REDSOCKS_KEYS, port: String(C_SOCKS_PORT) });
  return { daemons: [dante, rs], label: 'redsocks-ts + Dante (mptcpize)', redsocksPort: OUR_REDSOCKS_PORT, socksPort: C_SOCKS_PORT };
}

async function main(): Promise<void> {
  const o = parseOpts(process.argv.slice(2));
  destroyLabsOnSignals();
  const prof = PROFILES[o.profile];
  const rtt = rttMs(prof.isp1);
  console.log(b(`MPTCP two-ISP demo — profile ${prof.name}: ${prof.description}`));
  console.log('building the lab: lan ── gateway ══ isp1/isp2 (emulated WAN) ══ remote (SOCKS server) ── origin');
  const lab = await Lab.create(prof);
  for (const [isp, gw] of [['isp1', ADDR.gw1], ['isp2', ADDR.gw2]] as const) {
    const ping = lab.exec('gw', `ping -q -c 3 -i 0.2 ${gw}`, { allowFail: true });
    const avg = /= [\d.]+\/([\d.]+)\//.exec(ping)?.[1] ?? '?';
    const p = prof[isp];
    console.log(`  ${isp}: ${p.down.rateMbit}/${p.up.rateMbit} Mbit/s down/up, ${p.down.delayMs} ms one-way, loss ${p.down.lossPct} %; measured RTT ${avg} ms`);
  }
  let daemons: Daemon[] = [];
  let view: LiveView | undefined;
  try {
    const pair0 = o.pair === 'c' || !fs.existsSync(path.join(ROOT, 'packages/redsocks-ts/dist/cli.js')) ? C_REDSOCKS_PORT : OUR_REDSOCKS_PORT;
    const setupArgs = labSetupArgs(lab, { redsocksPort: pair0 });
    console.log(b('\n$ mptcp-gateway ' + setupArgs.join(' ')));
    const g = gatewayCli(lab, 'gw', setupArgs, true);
    if (g.code !== 0) throw new Error(`setup failed: ${g.err || g.out}`);
    process.stdout.write(g.out.replace(/^/gm, '  '));
    const s = gatewayCli(lab, 'remote', ['setup', '--role', 'server', '--state', path.join(lab.dir, 'srv.json')], true);
    if (s.code !== 0) throw new Error(`server setup failed: ${s.err || s.out}`);

    const pair = await startPair(lab, o.pair);
    daemons = pair.daemons;
    console.log(b(`\nbonded pair: ${pair.label}`) + `  (gateway :${pair.redsocksPort} -> ${ADDR.server}:${pair.socksPort})`);
    const doc = gatewayCli(lab, 'gw', ['doctor', '--server', `${ADDR.server}:${pair.socksPort}`, '--redsocks-port', String(pair.redsocksPort)], true);
    console.log(`$ mptcp-gateway doctor --server ${ADDR.server}:${pair.socksPort}\n${doc.out.replace(/^/gm, '  ').trimEnd()}\n`);

    view = new LiveView(lab);
    view.start();

    // 1. Page-like requests.
    view.setPhase('small page requests: 10 direct over isp1, 10 bonded');
    const direct: number[] = [];
    const bonded: number[] = [];
    for (let i = 0; i < 10; i++) {
      const d = await curlSmall(lab, 'gw', { local: ADDR.wan1 });
      if (d.ok) direct.push(d.ttfbMs);
      const x = await curlSmall(lab, 'lan');
      if (x.ok) bonded.push(x.ttfbMs);
    }
    view.log(`   TTFB median: direct ${median(direct).toFixed(0)} ms, bonded ${median(bonded).toFixed(0)} ms (${bonded.length}/10 ok)`);

    // 1b. A real browser loading the pages of bench/page-load.ts, direct and bonded.
    view.setPhase('page loads in headless chromium (page 1: one origin, HTTP/1.1; page 2: 12 HTTPS origins, h2 + h1.1): 3 direct over isp1, 3 bonded, each');
    const web = await startWebOrigin(lab);
    const onload = (ls: Array<{ ok: boolean; onloadMs: number }>): number[] => ls.filter((l) => l.ok).map((l) => l.onloadMs);
    const pageRuns: Array<{ page: Page; direct: number[]; bonded: number[] }> = [];
    for (const page of [web.page1, web.page2]) {
      const pageDirect = onload(await pageLoads(lab, 'gw', web, page, PAGE_LOADS));
      const pageBonded = onload(await pageLoads(lab, 'lan', web, page, PAGE_LOADS));
      pageRuns.push({ page, direct: pageDirect, bonded: pageBonded });
      view.log(`   ${page.name} onload median: direct ${median(pageDirect).toFixed(0)} ms, bonded ${median(pageBonded).toFixed(0)} ms (${pageBonded.length}/${PAGE_LOADS} ok)`);
    }
    web.stop();

    // 2. Download, 3. upload.
    const sumDown = prof.isp1.down.rateMbit + prof.isp2.down.rateMbit;
    const sumUp = prof.isp1.up.rateMbit + prof.isp2.up.rateMbit;
    const sized = (mbitRate: number, seconds: number): number => Math.round((mbitRate * 1e6 * seconds) / 8 / 1e6) * 1e6;
    view.setPhase('download: direct over isp1');
    const dDown = await transfer(lab, 'gw', 'get', sized(prof.isp1.down.rateMbit, 4), { local: ADDR.wan1 });
    view.log(`   direct download ${mbit(dDown.bytes, dDown.ms - Math.max(0, dDown.ttfbMs)).toFixed(1)} Mbit/s`);
    view.setPhase('download: bonded');
    const bDown = await transfer(lab, 'lan', 'get', sized(sumDown, 5));
    view.log(`   bonded download ${mbit(bDown.bytes, bDown.ms - Math.max(0, bDown.ttfbMs)).toFixed(1)} Mbit/s ${bDown.ok ? '' : `FAILED ${bDown.error}`}`);
    view.setPhase('upload: direct over isp1');
    const dUp = await transfer(lab, 'gw', 'post', sized(prof.isp1.up.rateMbit, 4), { local: ADDR.wan1 });
    view.log(`   direct upload ${mbit(dUp.bytes, dUp.ms).toFixed(1)} Mbit/s`);
    view.setPhase('upload: bonded');
    const bUp = await transfer(lab, 'lan', 'post', sized(sumUp, 5));
    view.log(`   bonded upload ${mbit(bUp.bytes, bUp.ms).toFixed(1)} Mbit/s ${bUp.ok ? '' : `FAILED ${bUp.error}`}`);

    // 4. ISP cut halfway, and restored.
    const v = view;
    view.setPhase('bonded: 15 MB download, isp1 (the default route) cut partway, 5 new connections meanwhile');
    const bFail = await failoverRun(lab, { node: 'lan' }, 15e6, 'isp1', { log: (x) => v.log(`   bonded: ${x}`) });
    view.setPhase('direct: download over isp1, isp1 cut partway');
    const dFail = await failoverRun(lab, { node: 'gw', local: ADDR.wan1 }, sized(prof.isp1.down.rateMbit, 6), 'isp1', {
      parallel: true, attemptTimeoutS: 2, log: (x) => v.log(`   direct: ${x}`),
    });
    view.setPhase('bonded: isp1 cut with nothing else running, 5 new connections');
    const bIdle = await outageTtfb(lab, { node: 'lan' }, 'isp1', 5, 3);
    view.log(`   bonded: ${bIdle.ok}/5 new connections while isp1 was down, TTFB ${bIdle.ttfbMs.map((x) => x.toFixed(0)).join(' ')} ms`);
    view.stop();

    const ms = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : 'n/a');
    const r = (ms: number): string => (Number.isFinite(ms) ? `${ms.toFixed(0)} ms = ${(ms / rtt).toFixed(1)} RTT` : 'n/a');
    const frac = (res: TransferResult, sum: number, up = false): string => {
      const m = mbit(res.bytes, res.ms - (up ? 0 : Math.max(0, res.ttfbMs)));
      return res.ok ? `${m.toFixed(1)} Mbit/s = ${(m / sum).toFixed(2)} of sum` : `failed (${res.error ?? ''})`;
    };
    const stall = (f: FailoverResult): string =>
      f.transfer.ok ? `${(f.transfer.maxStallMs / 1000).toFixed(2)} s (completed)` : `download failed (${f.transfer.error ?? ''})`;
    const rows: Array<[string, string, string]> = [
      [`TTFB, small page (median of 10; RTT ${rtt} ms)`, r(median(direct)), r(median(bonded))],
      ...pageRuns.map(({ page, direct: pd, bonded: pb }): [string, string, string] => [
        `${page.name} in chromium, ${page.origins.length} origin${page.origins.length > 1 ? 's' : ''}, ${page.requests} requests ${(page.bytes / 1024).toFixed(0)} KB (onload, median of ${PAGE_LOADS})`,
        ms(median(pd)),
        `${ms(median(pb))}${pb.length < PAGE_LOADS ? ` (${pb.length}/${PAGE_LOADS} loaded)` : ''} = ${(median(pb) / median(pd)).toFixed(2)}x direct`,
      ]),
      [`download (links sum ${sumDown} Mbit/s)`, frac(dDown, sumDown), frac(bDown, sumDown)],
      [`upload (links sum ${sumUp} Mbit/s)`, frac(dUp, sumUp, true), frac(bUp, sumUp, true)],
      ['longest stall, isp1 cut during a download', stall(dFail), stall(bFail)],
      ['new connections while isp1 was down (download running)', `${dFail.newOk}/5`, `${bFail.newOk}/5${bFail.newTtfb.length ? ` (TTFB ${r(median(bFail.newTtfb))}, queued behind the download)` : ''}`],
      ['new connections while isp1 was down (nothing else)', 'n/a (no other ISP)', `${bIdle.ok}/5${bIdle.ttfbMs.length ? ` (TTFB ${r(median(bIdle.ttfbMs))})` : ''}`],
    ];
    const w0 = Math.max(...rows.map((x) => x[0].length));
    const w1 = Math.max(22, ...rows.map((x) => x[1].length));
    console.log(b(`\nSummary — profile ${prof.name}; direct = one ISP (isp1) without proxy; bonded = ${pair.label}`));
    console.log(`${''.padEnd(w0)}  ${'direct'.padEnd(w1)}  bonded`);
    for (const [k, d, x] of rows) console.log(`${k.padEnd(w0)}  ${d.padEnd(w1)}  ${x}`);
    const plot = sparkPlot(view);
    if (plot) console.log(`\n${plot}`);
  } finally {
    view?.stop();
    await stopAll(daemons).catch(() => undefined);
    lab.destroy();
    console.log('\nlab torn down.');
  }
}

main().catch((e: unknown) => {
  console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
