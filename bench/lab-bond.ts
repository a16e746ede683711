/**
 * Issue 6 benchmark: per profile, for direct over one ISP, the C pair (redsocks + Dante under
 * mptcpize) and ours (redsocks-ts + socks-server, conf/lab), in one lab run:
 *   - the ceiling: ONE plain TCP flow per link (gateway, bound to that WAN), same client and
 *     transfer length as below; bonded throughput is reported against the nominal sum of the
 *     link rates AND against the sum of these measured single-flow rates
 *   - TTFB of a small request, in RTTs (median of 10)
 *   - aggregate download / upload (`--seconds` of data at the links' sum rate), with the bytes
 *     each WAN carried during the download
 *   - TTFB under bulk load (head-of-line), median of 5
 *   - new connections during an outage of isp1, then of isp2, with nothing else running:
 *     successes and TTFB against the normal TTFB
 *   - failover: a 15 MB download with isp1 (the default route) cut once a third has arrived,
 *     for 4 s: completion, the longest stall, and 5 new connections made during that outage
 *     (their TTFB includes the download's queueing on the surviving link: compare it with the
 *     TTFB under load)
 * Prints numbers; never fails on speed.
 *   npx tsx bench/lab-bond.ts [--profiles equal-20,lossy-10,asym] [--modes direct,c,ours]
 *       [--seconds 8] [--stale-loss-cnt N] [--only failover|outage,failover] [--outage-ms 4000] [--by-hand]
 *       [--first-after-ms 0]  (the idle-outage requests start this long after the cut)
 * `--only failover` skips everything but the 15 MB download with the cut (and the ceilings),
 * `--only outage,failover` adds the new connections during an idle outage;
 * `--outage-ms` sets how long the cut lasts (longer than the download: a dead ISP).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  Lab, ADDR, destroyLabsOnSignals, ROOT, IspName, PROFILES, rttMs, LabProfile, setupLab, preferCompiled,
  ModeRunner, failoverRun, linkCeilings, LinkCeiling, mptcpActivity, outageTtfb, ttfbSeries, ttfbUnderLoad,
  wanSplit, mbit, median, transfer,
} from '@mptcp-proxy/lab';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

interface Row {
  profile: string;
  mode: string;
  ttfbMs?: number;
  ttfbRtt?: number;
  downMbit?: number;
  downFrac?: number;
  downCeil?: number;
  downWan1MB?: number;
  downWan2MB?: number;
  /** Gateway MPTCP counters during the download: connections, fallbacks to TCP, MP_JOINs answered. */
  mptcp?: { capable: number; fallback: number; joins: number; disabled: number };
  upMbit?: number;
  upFrac?: number;
  upCeil?: number;
  holTtfbMs?: number;
  holRtt?: number;
  outage?: { isp: IspName; ok: number; attempts: number; ttfbMs: number[]; medianMs: number; ratio: number; ratioRtt: number }[];
  failoverOk?: boolean;
  failoverStallS?: number;
  failoverTotalS?: number;
  failoverNewOk?: number;
  failoverNewTtfbMs?: number;
  error?: string;
}

/**
 * `--by-hand`: the gateway as issue 10 §5's user sets it up, after the setup tool ran: one
 * endpoint (the second ISP's) and its policy route, none for the default-route ISP, and the
 * kernel's defaults for the failover sysctls on both ends (stale_loss_cnt 4, blackhole_timeout
 * 3600 on the gateway).
 */
function byHand(lab: Lab): void {
  const wan1 = lab.ns.gw.exec('ip mptcp endpoint show').split('\n').find((l) => l.startsWith(`${ADDR.wan1} `));
  const id = wan1 ? /\bid (\d+)/.exec(wan1)?.[1] : undefined;
  if (id) lab.ns.gw.exec(`ip mptcp endpoint delete id ${id}`);
  lab.ns.gw.exec('sysctl -qw net.mptcp.stale_loss_cnt=4 net.mptcp.blackhole_timeout=3600');
  lab.ns.remote.exec('sysctl -qw net.mptcp.stale_loss_cnt=4');
  console.log(`  by hand: endpoints ${lab.ns.gw.exec('ip mptcp endpoint show').trim().replace(/\n/g, '; ')}; stale_loss_cnt 4 both ends, blackhole_timeout 3600`);
}

const fmt = (x: number | undefined, d = 2): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));

async function benchProfile(prof: LabProfile, modes: string[], seconds: number): Promise<{ rows: Row[]; ceilings: LinkCeiling[] }> {
  const rtt = rttMs(prof.isp1);
  const sumDown = prof.isp1.down.rateMbit + prof.isp2.down.rateMbit;
  const sumUp = prof.isp1.up.rateMbit + prof.isp2.up.rateMbit;
  const bestDown = Math.max(prof.isp1.down.rateMbit, prof.isp2.down.rateMbit);
  const sized = (rate: number, s: number): number => Math.max(2, Math.round((rate * s) / 8)) * 1e6;
  const lab = await Lab.create(prof);
  const stale = arg('stale-loss-cnt', '');
  const runner = new ModeRunner(lab, stale ? Number(stale) : undefined);
  const rows: Row[] = [];
  let ceilings: LinkCeiling[] = [];
  try {
    setupLab(lab, { compiled: preferCompiled(), staleLossCnt: stale ? Number(stale) : undefined });
    if (stale) console.log(`  net.mptcp.stale_loss_cnt=${stale} on both ends (instead of the setup tool's 2)`);
    ceilings = await linkCeilings(lab, seconds);
    for (const c of ceilings) console.log(`  [${prof.name} ceiling] one plain TCP flow on ${c.isp}: down ${fmt(c.downMbit, 1)} Mbit/s, up ${fmt(c.upMbit, 1)} Mbit/s`);
    const ceilDown = ceilings.reduce((a, c) => a + c.downMbit, 0);
    const ceilUp = ceilings.reduce((a, c) => a + c.upMbit, 0);
    const measureAll = async (row: Row, mode: Awaited<ReturnType<ModeRunner['start']>>, tag: string): Promise<void> => {
      const name = row.mode;
      const t = await ttfbSeries(lab, mode.src, 10);
      row.ttfbMs = median(t.filter((x) => x.ok).map((x) => x.ttfbMs));
      row.ttfbRtt = row.ttfbMs / rtt;
      const direct = name === 'direct';
      const act = await mptcpActivity(lab, () =>
        wanSplit(lab, () => transfer(lab, mode.src.node, 'get', sized(direct ? prof.isp1.down.rateMbit : sumDown, seconds), { local: mode.src.local, timeoutMs: 90000 })),
      );
      const dl = act.result;
      const down = dl.result;
      row.mptcp = { capable: act.capable, fallback: act.fallback, joins: act.joins, disabled: act.disabled };
      // The C pair's redsocks is under mptcpize, so its connections show here too.
      if (!direct && (act.capable < 1 || act.joins < 1)) {
        console.log(
          `${tag} WARNING: the bonded download was not bonded: gateway MPTCP connections ${act.capable}, fallbacks to TCP ${act.fallback}, joins ${act.joins}, ` +
            `SYNs without MP_CAPABLE because blackhole detection switched MPTCP off ${act.disabled}`,
        );
      }
      row.downWan1MB = dl.wan1 / 1e6;
      row.downWan2MB = dl.wan2 / 1e6;
      row.downMbit = down.ok ? mbit(down.bytes, down.ms - down.ttfbMs) : undefined;
      row.downFrac = row.downMbit !== undefined ? row.downMbit / sumDown : undefined;
      row.downCeil = row.downMbit !== undefined ? row.downMbit / ceilDown : undefined;
      const up = await transfer(lab, mode.src.node, 'post', sized(direct ? prof.isp1.up.rateMbit : sumUp, seconds), { local: mode.src.local, timeoutMs: 90000 });
      row.upMbit = up.ok ? mbit(up.bytes, up.ms) : undefined;
      row.upFrac = row.upMbit !== undefined ? row.upMbit / sumUp : undefined;
      row.upCeil = row.upMbit !== undefined ? row.upMbit / ceilUp : undefined;
      console.log(
        `${tag} TTFB ${fmt(row.ttfbMs, 0)} ms = ${fmt(row.ttfbRtt)} RTT; down ${fmt(row.downMbit, 1)} Mbit/s${down.ok ? '' : ` FAILED ${down.error}`} ` +
          `(wire bytes wan1 ${fmt(row.downWan1MB, 1)} MB, wan2 ${fmt(row.downWan2MB, 1)} MB; MPTCP ${act.capable}, fallback ${act.fallback}, joins ${act.joins}); up ${fmt(row.upMbit, 1)} Mbit/s${up.ok ? '' : ` FAILED ${up.error}`}`,
      );
      const hol = await ttfbUnderLoad(lab, mode.src, sized(direct ? prof.isp1.down.rateMbit : sumDown, 8), 5);
      row.holTtfbMs = median(hol.ttfb.filter((x) => x.ok).map((x) => x.ttfbMs));
      row.holRtt = row.holTtfbMs / rtt;
      console.log(`${tag} TTFB under bulk load ${fmt(row.holTtfbMs, 0)} ms = ${fmt(row.holRtt, 1)} RTT (${hol.ttfb.filter((x) => x.ok).length}/${hol.ttfb.length} ok)`);
    };
    const measureOutage = async (row: Row, mode: Awaited<ReturnType<ModeRunner['start']>>, tag: string): Promise<void> => {
      row.outage = [];
      for (const isp of ['isp1', 'isp2'] as const) {
        const o = await outageTtfb(lab, mode.src, isp, 5, 3, Number(arg('first-after-ms', '0')));
        const med = median(o.ttfbMs);
        // In RTTs of the link that survives, so that a slower surviving link is not counted
        // as a slower connection setup (asym: isp2 has 4x the RTT of isp1).
        const survivorRtt = rttMs(prof[isp === 'isp1' ? 'isp2' : 'isp1']);
        const ratioRtt = med / survivorRtt / (row.ttfbRtt ?? NaN);
        row.outage.push({ ...o, medianMs: med, ratio: med / (row.ttfbMs ?? NaN), ratioRtt });
        console.log(
          `${tag} ${isp} down, idle: ${o.ok}/${o.attempts} new connections, TTFB ${o.ttfbMs.map((x) => x.toFixed(0)).join(' ')} ms ` +
            `(median ${fmt(med, 0)} ms = ${fmt(med / (row.ttfbMs ?? NaN))}x normal; ${fmt(med / survivorRtt)} RTT of ${isp === 'isp1' ? 'isp2' : 'isp1'} = ${fmt(ratioRtt)}x normal in RTTs)`,
        );
      }
    };
    for (const name of modes) {
      const row: Row = { profile: prof.name, mode: name };
      rows.push(row);
      let mode;
      try {
        mode = await runner.start(name);
      } catch (e) {
        row.error = String(e).split('\n')[0];
        console.log(`  ${name}: could not start: ${row.error}`);
        continue;
      }
      const tag = `  [${prof.name} ${mode.label}]`;
      const direct = name === 'direct';
      if (process.argv.includes('--by-hand')) byHand(lab);
      try {
        const only = arg('only', '').split(',').filter((x) => x);
        if (only.length === 0) await measureAll(row, mode, tag);
        if (only.length === 0 || only.includes('outage')) await measureOutage(row, mode, tag);
        const pm = (): number[] => [lab.ns.gw.counter('MPTcpExtRmAddrTx'), lab.ns.remote.counter('MPTcpExtRmAddr'), lab.ns.remote.counter('MPTcpExtRmSubflow')];
        const pm0 = pm();
        const f = await failoverRun(lab, mode.src, 15e6, 'isp1', {
          outageMs: Number(arg('outage-ms', '4000')),
          parallel: direct,
          attemptTimeoutS: direct ? 2 : 3,
          log: (s) => console.log(`${tag} ${s}`),
        });
        const pm1 = pm();
        console.log(`${tag} path manager during the cut: REMOVE_ADDR sent by the gateway ${pm1[0] - pm0[0]}, received by the server ${pm1[1] - pm0[1]}, server subflows removed ${pm1[2] - pm0[2]}`);
        if (process.argv.includes('--path-log')) {
          for (const l of (mode.output?.() ?? '').split('\n').filter((x) => /path|paths = auto|endpoint/.test(x)).slice(-12)) console.log(`${tag}   redsocks: ${l}`);
        }
        row.failoverOk = f.transfer.ok;
        row.failoverStallS = f.transfer.maxStallMs / 1000;
        row.failoverTotalS = f.transfer.ms / 1000;
        row.failoverNewOk = f.newOk;
        row.failoverNewTtfbMs = median(f.newTtfb);
        console.log(`${tag} new connections during the cut with the download running: TTFB ${f.newTtfb.map((x) => x.toFixed(0)).join(' ')} ms`);
      } catch (e) {
        row.error = String(e).split('\n')[0];
        console.log(`${tag} error: ${row.error}`);
      } finally {
        await mode.stop();
      }
    }
  } finally {
    await runner.close().catch(() => undefined);
    lab.destroy();
  }
  const ceilDown = ceilings.reduce((a, c) => a + c.downMbit, 0);
  const ceilUp = ceilings.reduce((a, c) => a + c.upMbit, 0);
  console.log(`\n${prof.name}: ${prof.description}; RTT ${rtt} ms (isp1)`);
  console.log(
    `  links: nominal sum ${sumDown}/${sumUp} Mbit/s down/up (best single ${bestDown}); one plain TCP flow per link, measured: ` +
      ceilings.map((c) => `${c.isp} ${fmt(c.downMbit, 1)}/${fmt(c.upMbit, 1)}`).join(', ') + `, sum ${fmt(ceilDown, 1)}/${fmt(ceilUp, 1)}`,
  );
  console.log('  frac = of the nominal sum; ceil = of the measured single-flow sum (MPTCP data frames carry 1420 payload bytes, TCP 1448: MPTCP tops out at 0.938 nominal = 0.981 ceil)');
  console.log('mode                  TTFB(RTT)  down Mbit/s (frac ceil)  wan1/wan2 MB  up Mbit/s (frac ceil)  HoL TTFB(RTT)');
  for (const r of rows) {
    if (r.error && r.ttfbRtt === undefined) {
      console.log(`${r.mode.padEnd(22)}${r.error}`);
      continue;
    }
    console.log(
      `${r.mode.padEnd(22)}${fmt(r.ttfbRtt).padStart(9)}  ${fmt(r.downMbit, 1).padStart(10)} (${fmt(r.downFrac)} ${fmt(r.downCeil)})  ${`${fmt(r.downWan1MB, 1)}/${fmt(r.downWan2MB, 1)}`.padStart(12)}  ` +
        `${fmt(r.upMbit, 1).padStart(9)} (${fmt(r.upFrac)} ${fmt(r.upCeil)})  ${fmt(r.holRtt, 1).padStart(13)}`,
    );
  }
  console.log('  new conns with one ISP down and no other traffic: median TTFB, x normal in ms and x normal in RTTs of the surviving link');
  console.log(`${'mode'.padEnd(22)}${'isp1 down'.padEnd(38)}  ${'isp2 down'.padEnd(36)}  15MB+cut: done  stall s  new conns during it (TTFB; vs HoL)`);
  for (const r of rows) {
    if (r.error && r.ttfbRtt === undefined) continue;
    const o = (i: number): string => {
      const x = r.outage?.[i];
      return x ? `${x.ok}/${x.attempts} (${fmt(x.medianMs, 0)} ms, ${fmt(x.ratio)}x, ${fmt(x.ratioRtt)}x RTTs)` : '-';
    };
    console.log(
      `${r.mode.padEnd(22)}${o(0).padEnd(38)}  ${o(1).padEnd(36)}  ${String(r.failoverOk === undefined ? '-' : r.failoverOk ? 'yes' : 'NO').padStart(14)}  ${fmt(r.failoverStallS).padStart(7)}  ` +
        `${r.failoverNewOk ?? '-'}/5${r.failoverNewTtfbMs !== undefined && Number.isFinite(r.failoverNewTtfbMs) ? ` (${fmt(r.failoverNewTtfbMs, 0)} ms; ${fmt(r.failoverNewTtfbMs / (r.holTtfbMs ?? NaN))}x HoL)` : ''}`,
    );
  }
  console.log('');
  return { rows, ceilings };
}

if (require.main === module) {
  destroyLabsOnSignals();
  const profiles = arg('profiles', 'equal-20,lossy-10,asym').split(',');
  const modes = arg('modes', 'direct,c,ours').split(',');
  const seconds = Number(arg('seconds', '8'));
  (async () => {
    const all: Array<{ profile: string; ceilings: LinkCeiling[]; rows: Row[] }> = [];
    for (const p of profiles) {
      console.log(`lab-bond: profile ${p}`);
      const r = await benchProfile(PROFILES[p], modes, seconds);
      all.push({ profile: p, ...r });
    }
    const out = path.join(ROOT, 'bench/out');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'lab-bond.json'), JSON.stringify(all, null, 2));
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
