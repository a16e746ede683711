/**
 * Issue 6 benchmark: per profile, for direct over one ISP, the C pair (redsocks + Dante under
 * mptcpize), ours as a drop-in user runs it (conf/lab/redsocks-dropin.conf and
 * danted-dropin.conf: no extension key, issue 10) and ours as shipped (conf/lab), in one lab run:
 *   - the ceiling: ONE plain TCP flow per link (gateway, bound to that WAN), same client and
 *     transfer length as below; bonded throughput is reported against the nominal sum of the
 *     link rates AND against the sum of these measured single-flow rates
 *   - the MPTCP ceiling: `mptcpize iperf3` from the gateway to the remote host over both WANs
 *   - TTFB of a small request, in RTTs (median of 20, after a first one that is left out)
 *   - aggregate download / upload (`--seconds` of data at the links' sum rate), with the bytes
 *     each WAN carried during the download
 *   - TTFB under bulk load (head-of-line), median of 5, while a download runs and while an
 *     upload runs
 *   - new connections during an outage of isp1, then of isp2, with nothing else running:
 *     successes and TTFB against the normal TTFB
 *   - failover: a 15 MB download with isp1 (the default route) cut once a third has arrived,
 *     for 4 s: completion, the longest stall, and 5 new connections made during that outage
 *     (their TTFB includes the download's queueing on the surviving link: compare it with the
 *     TTFB under load)
 * --matrix (issue 10) instead measures every combination of our options, both directions:
 * handshake plain / pipelined (optimistic = on against a server without extension.optimistic,
 * as with Dante) / optimistic; pool_size 0 / 4 / auto; fastopen off / on; paths off / on (the
 * conf/lab paths), each against the default (the drop-in configs, measured first and last),
 * and flags every combination slower than the default by more than --tolerance. Pooled
 * connections idle --idle seconds before each transfer, as they do in use.
 * --cc NAME sets the TCP congestion control of every lab namespace (bbr is this machine's
 * default, cubic Debian's); every report names the one it ran with.
 * Prints numbers; never fails on speed.
 *   npx tsx bench/lab-bond.ts [--profiles equal-20,lossy-10,asym] [--modes direct,c,dropin,ours]
 *       [--seconds 8] [--stale-loss-cnt N] [--cc bbr|cubic] [--out bench/out/FILE.json]
 *       [--only failover|outage,failover] [--outage-ms 4000] [--by-hand] [--path-log]
 *       [--first-after-ms 0]  (the idle-outage requests start this long after the cut)
 * `--only failover` skips everything but the 15 MB download with the cut (and the ceilings),
 * `--only outage,failover` adds the new connections during an idle outage;
 * `--outage-ms` sets how long the cut lasts (longer than the download: a dead ISP).
 *   npx tsx bench/lab-bond.ts --matrix [--profiles ...] [--seconds 6] [--idle 3] [--tolerance 0.05] [--cc ...]
 *       [--only REGEX (combinations whose label matches, e.g. 'optimistic pool=4')]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  Lab, ADDR, destroyLabsOnSignals, ROOT, IspName, PROFILES, rttMs, LabProfile, setupLab, preferCompiled,
  Mode, ModeRunner, OUR_MODES, OurSpec, redsocksPoolStats, waitFor,
  failoverRun, linkCeilings, LinkCeiling, mptcpActivity, outageTtfb, ttfbSeries, ttfbUnderLoad,
  wanSplit, mbit, median, sleep, transfer, mptcpCeiling,
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
  /** The same while an upload runs. */
  holUpTtfbMs?: number;
  holUpRtt?: number;
  /** Of the MPTCP ceiling (mptcpize iperf3) measured in the same run. */
  downMptcp?: number;
  upMptcp?: number;
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

/** The congestion control this run uses (--cc, else the namespaces' inherited default). */
let cc = '';

async function createLab(prof: LabProfile): Promise<Lab> {
  const lab = await Lab.create(prof);
  const want = arg('cc', '');
  cc = want ? lab.setCongestionControl(want, { allowOnHost: true }) : lab.congestionControl();
  console.log(`  congestion control: ${cc} (lan, gw, remote, origin)`);
  return lab;
}

async function benchProfile(
  prof: LabProfile,
  modes: string[],
  seconds: number,
): Promise<{ rows: Row[]; ceilings: LinkCeiling[]; mptcp?: { downMbit: number; upMbit: number } }> {
  const rtt = rttMs(prof.isp1);
  const sumDown = prof.isp1.down.rateMbit + prof.isp2.down.rateMbit;
  const sumUp = prof.isp1.up.rateMbit + prof.isp2.up.rateMbit;
  const bestDown = Math.max(prof.isp1.down.rateMbit, prof.isp2.down.rateMbit);
  const sized = (rate: number, s: number): number => Math.max(2, Math.round((rate * s) / 8)) * 1e6;
  const lab = await createLab(prof);
  const stale = arg('stale-loss-cnt', '');
  const runner = new ModeRunner(lab, stale ? Number(stale) : undefined);
  const rows: Row[] = [];
  let ceilings: LinkCeiling[] = [];
  let mptcp: { downMbit: number; upMbit: number } | undefined;
  try {
    setupLab(lab, { compiled: preferCompiled(), staleLossCnt: stale ? Number(stale) : undefined });
    if (stale) console.log(`  net.mptcp.stale_loss_cnt=${stale} on both ends (instead of the setup tool's 2)`);
    ceilings = await linkCeilings(lab, seconds);
    for (const c of ceilings) console.log(`  [${prof.name} ceiling] one plain TCP flow on ${c.isp}: down ${fmt(c.downMbit, 1)} Mbit/s, up ${fmt(c.upMbit, 1)} Mbit/s`);
    const mc = await mptcpCeiling(lab, seconds).catch((e: unknown) => {
      console.log(`  [${prof.name} ceiling] mptcpize iperf3 failed: ${String(e).split('\n')[0]}`);
      return undefined;
    });
    mptcp = mc;
    if (mc) console.log(`  [${prof.name} ceiling] mptcpize iperf3 gateway -> remote over both WANs: down ${fmt(mc.downMbit, 1)} Mbit/s, up ${fmt(mc.upMbit, 1)} Mbit/s`);
    const ceilDown = ceilings.reduce((a, c) => a + c.downMbit, 0);
    const ceilUp = ceilings.reduce((a, c) => a + c.upMbit, 0);
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
      const only = arg('only', '').split(',').filter((x) => x);
      try {
        if (only.length === 0) {
          // the first request after the mode started warms caches (ARP, the server verdict): left out
          const t = (await ttfbSeries(lab, mode.src, 21)).slice(1);
          row.ttfbMs = median(t.filter((x) => x.ok).map((x) => x.ttfbMs));
          row.ttfbRtt = row.ttfbMs / rtt;
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
          row.downMptcp = row.downMbit !== undefined && mptcp ? row.downMbit / mptcp.downMbit : undefined;
          const up = await transfer(lab, mode.src.node, 'post', sized(direct ? prof.isp1.up.rateMbit : sumUp, seconds), { local: mode.src.local, timeoutMs: 90000 });
          row.upMbit = up.ok ? mbit(up.bytes, up.ms) : undefined;
          row.upFrac = row.upMbit !== undefined ? row.upMbit / sumUp : undefined;
          row.upCeil = row.upMbit !== undefined ? row.upMbit / ceilUp : undefined;
          row.upMptcp = row.upMbit !== undefined && mptcp ? row.upMbit / mptcp.upMbit : undefined;
          console.log(
            `${tag} TTFB ${fmt(row.ttfbMs, 0)} ms = ${fmt(row.ttfbRtt)} RTT; down ${fmt(row.downMbit, 1)} Mbit/s${down.ok ? '' : ` FAILED ${down.error}`} ` +
              `(wire bytes wan1 ${fmt(row.downWan1MB, 1)} MB, wan2 ${fmt(row.downWan2MB, 1)} MB; MPTCP ${act.capable}, fallback ${act.fallback}, joins ${act.joins}); up ${fmt(row.upMbit, 1)} Mbit/s${up.ok ? '' : ` FAILED ${up.error}`}`,
          );
          const hol = await ttfbUnderLoad(lab, mode.src, sized(direct ? prof.isp1.down.rateMbit : sumDown, 8), 5);
          row.holTtfbMs = median(hol.ttfb.filter((x) => x.ok).map((x) => x.ttfbMs));
          row.holRtt = row.holTtfbMs / rtt;
          console.log(`${tag} TTFB under bulk load ${fmt(row.holTtfbMs, 0)} ms = ${fmt(row.holRtt, 1)} RTT (${hol.ttfb.filter((x) => x.ok).length}/${hol.ttfb.length} ok)`);
          const holUp = await ttfbUnderLoad(lab, mode.src, sized(direct ? prof.isp1.up.rateMbit : sumUp, 8), 5, 'post');
          row.holUpTtfbMs = median(holUp.ttfb.filter((x) => x.ok).map((x) => x.ttfbMs));
          row.holUpRtt = row.holUpTtfbMs / rtt;
          console.log(`${tag} TTFB under bulk upload ${fmt(row.holUpTtfbMs, 0)} ms = ${fmt(row.holUpRtt, 1)} RTT (${holUp.ttfb.filter((x) => x.ok).length}/${holUp.ttfb.length} ok)`);
        }
        if (only.length === 0 || only.includes('outage')) {
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
        }
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
  console.log(`\n${prof.name}: ${prof.description}; RTT ${rtt} ms (isp1); congestion control ${cc}`);
  console.log(
    `  links: nominal sum ${sumDown}/${sumUp} Mbit/s down/up (best single ${bestDown}); one plain TCP flow per link, measured: ` +
      ceilings.map((c) => `${c.isp} ${fmt(c.downMbit, 1)}/${fmt(c.upMbit, 1)}`).join(', ') + `, sum ${fmt(ceilDown, 1)}/${fmt(ceilUp, 1)}`,
  );
  console.log('  frac = of the nominal sum; ceil = of the measured single-flow sum (MPTCP data frames carry 1420 payload bytes, TCP 1448: MPTCP tops out at 0.938 nominal = 0.981 ceil)');
  if (mptcp) console.log(`  MPTCP ceiling (mptcpize iperf3, same run): down ${fmt(mptcp.downMbit, 1)}, up ${fmt(mptcp.upMbit, 1)} Mbit/s; mp = of it`);
  console.log('mode                  TTFB(RTT)  down Mbit/s (frac ceil mp)  wan1/wan2 MB  up Mbit/s (frac ceil mp)  TTFB under load down/up (RTT)');
  for (const r of rows) {
    if (r.error && r.ttfbRtt === undefined) {
      console.log(`${r.mode.padEnd(22)}${r.error}`);
      continue;
    }
    console.log(
      `${r.mode.padEnd(22)}${fmt(r.ttfbRtt).padStart(9)}  ${fmt(r.downMbit, 1).padStart(10)} (${fmt(r.downFrac)} ${fmt(r.downCeil)} ${fmt(r.downMptcp)})  ${`${fmt(r.downWan1MB, 1)}/${fmt(r.downWan2MB, 1)}`.padStart(12)}  ` +
        `${fmt(r.upMbit, 1).padStart(9)} (${fmt(r.upFrac)} ${fmt(r.upCeil)} ${fmt(r.upMptcp)})  ${`${fmt(r.holRtt, 1)} / ${fmt(r.holUpRtt, 1)}`.padStart(13)}`,
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
  return { rows, ceilings, mptcp };
}

interface MatrixRow {
  label: string;
  ttfbMs?: number;
  downMbit?: number;
  upMbit?: number;
  /** Against the default's mean (first and last run). */
  downRatio?: number;
  upRatio?: number;
  flagged?: boolean;
  error?: string;
}

/** Every combination of our options (issue 10 §1), each as an OurSpec over conf/lab. */
function matrixSpecs(): OurSpec[] {
  const handshakes: Array<[string, Record<string, string>, Record<string, string | null>]> = [
    ['plain', { optimistic: 'off' }, {}],
    ['pipelined', { optimistic: 'on' }, { 'extension.optimistic': 'no' }],
    ['optimistic', { optimistic: 'on' }, {}],
  ];
  const specs: OurSpec[] = [];
  for (const [hs, keys, serverKeys] of handshakes) {
    for (const pool of ['0', '4', 'auto']) {
      for (const tfo of ['off', 'on']) {
        for (const paths of [false, true]) {
          specs.push({
            label: `${hs} pool=${pool} tfo=${tfo} paths=${paths ? 'on' : 'off'}`,
            keys: { ...keys, pool_size: pool, fastopen: tfo, ...(paths ? {} : { paths: null }) },
            serverKeys,
          });
        }
      }
    }
  }
  return specs;
}

/**
 * One combination: pooled connections (if any) fill and idle `idleS`, then an upload, another
 * idle, a download (each `seconds` at the links' sum), then 5 small requests.
 */
async function measureCombination(lab: Lab, mode: Mode, spec: OurSpec, prof: LabProfile, seconds: number, idleS: number): Promise<MatrixRow> {
  const row: MatrixRow = { label: spec.label };
  const sized = (rate: number): number => Math.max(2, Math.round((rate * seconds) / 8)) * 1e6;
  const pool = Number(spec.keys.pool_size ?? 0);
  const rs = mode.redsocks;
  const idle = async (): Promise<void> => {
    if (pool > 0 && rs) await waitFor(async () => (await redsocksPoolStats(rs)).idle >= pool, 15000, 'the warm pool to fill');
    await sleep(idleS * 1000);
  };
  await idle();
  const up = await transfer(lab, 'lan', 'post', sized(prof.isp1.up.rateMbit + prof.isp2.up.rateMbit), { timeoutMs: 90000 });
  row.upMbit = up.ok ? mbit(up.bytes, up.ms) : undefined;
  await idle();
  const down = await transfer(lab, 'lan', 'get', sized(prof.isp1.down.rateMbit + prof.isp2.down.rateMbit), { timeoutMs: 90000 });
  row.downMbit = down.ok ? mbit(down.bytes, down.ms - down.ttfbMs) : undefined;
  const t = await ttfbSeries(lab, mode.src, 5);
  row.ttfbMs = median(t.filter((x) => x.ok).map((x) => x.ttfbMs));
  if (!up.ok || !down.ok) row.error = `${up.ok ? '' : `up: ${up.error} `}${down.ok ? '' : `down: ${down.error}`}`;
  return row;
}

async function benchMatrix(prof: LabProfile, seconds: number): Promise<MatrixRow[]> {
  const idleS = Number(arg('idle', '3'));
  const tolerance = Number(arg('tolerance', '0.05'));
  const rtt = rttMs(prof.isp1);
  const lab = await createLab(prof);
  const runner = new ModeRunner(lab);
  const rows: MatrixRow[] = [];
  const dropin = { ...OUR_MODES.dropin, label: 'default (drop-in configs)' };
  const only = new RegExp(arg('only', '.'));
  const specs = [dropin, ...matrixSpecs().filter((m) => only.test(m.label)), { ...dropin, label: 'default (again)' }];
  try {
    setupLab(lab, { compiled: preferCompiled() });
    for (const spec of specs) {
      let mode: Mode | undefined;
      try {
        mode = await runner.startOurs(spec.label, spec);
        const row = await measureCombination(lab, mode, spec, prof, seconds, idleS);
        rows.push(row);
        console.log(`  [${prof.name} ${spec.label}] TTFB ${fmt(row.ttfbMs, 0)} ms; down ${fmt(row.downMbit, 1)} Mbit/s; up ${fmt(row.upMbit, 1)} Mbit/s${row.error ? `; ${row.error}` : ''}`);
      } catch (e) {
        rows.push({ label: spec.label, error: String(e).split('\n')[0] });
        console.log(`  [${prof.name} ${spec.label}] error: ${String(e).split('\n')[0]}`);
      } finally {
        await mode?.stop();
      }
    }
  } finally {
    await runner.close().catch(() => undefined);
    lab.destroy();
  }
  const defaults = [rows[0], rows[rows.length - 1]];
  const ref = (k: 'downMbit' | 'upMbit'): number => defaults.reduce((a, r) => a + (r[k] ?? NaN), 0) / defaults.length;
  const refDown = ref('downMbit');
  const refUp = ref('upMbit');
  for (const r of rows) {
    r.downRatio = (r.downMbit ?? 0) / refDown;
    r.upRatio = (r.upMbit ?? 0) / refUp;
    r.flagged = r.downRatio < 1 - tolerance || r.upRatio < 1 - tolerance || r.error !== undefined;
  }
  console.log(`\n${prof.name} matrix: ${prof.description}; RTT ${rtt} ms (isp1); congestion control ${cc}; ${seconds} s transfers after ${idleS} s idle`);
  console.log(`  default = the drop-in configs (no extension key), mean of the first and last run: down ${fmt(refDown, 1)}, up ${fmt(refUp, 1)} Mbit/s`);
  console.log(`${'combination'.padEnd(44)}${'TTFB ms (RTT)'.padStart(15)}${'down Mbit/s (x def)'.padStart(22)}${'up Mbit/s (x def)'.padStart(20)}`);
  for (const r of rows) {
    const cell = (v?: number, x?: number): string => `${fmt(v, 1)} (${fmt(x)})`;
    console.log(
      `${r.label.padEnd(44)}${`${fmt(r.ttfbMs, 0)} (${fmt((r.ttfbMs ?? NaN) / rtt)})`.padStart(15)}${cell(r.downMbit, r.downRatio).padStart(22)}${cell(r.upMbit, r.upRatio).padStart(20)}` +
        `${r.flagged ? `  SLOWER THAN THE DEFAULT${r.error ? ` (${r.error})` : ''}` : ''}`,
    );
  }
  const slow = rows.filter((r) => r.flagged);
  console.log(slow.length ? `  ${slow.length} combination(s) slower than the default by more than ${tolerance * 100} %` : `  no combination slower than the default by more than ${tolerance * 100} %`);
  console.log('');
  return rows;
}

if (require.main === module) {
  destroyLabsOnSignals();
  const profiles = arg('profiles', 'equal-20,lossy-10,asym').split(',');
  const modes = arg('modes', 'direct,c,dropin,ours').split(',');
  const matrix = process.argv.includes('--matrix');
  const seconds = Number(arg('seconds', '8'));
  (async () => {
    const all: Array<{ profile: string; ceilings: LinkCeiling[]; mptcp?: { downMbit: number; upMbit: number }; rows: Row[]; matrix?: MatrixRow[] }> = [];
    for (const p of profiles) {
      console.log(`lab-bond: profile ${p}${matrix ? ' (matrix)' : ''}`);
      if (matrix) all.push({ profile: p, ceilings: [], rows: [], matrix: await benchMatrix(PROFILES[p], Number(arg('seconds', '6'))) });
      else all.push({ profile: p, ...(await benchProfile(PROFILES[p], modes, seconds)) });
    }
    const out = path.join(ROOT, 'bench/out');
    fs.mkdirSync(out, { recursive: true });
    const file = arg('out', path.join(out, matrix ? 'lab-bond-matrix.json' : 'lab-bond.json'));
    fs.writeFileSync(file, JSON.stringify({ cc, profiles: all }, null, 2));
    console.log(`wrote ${file}`);
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
