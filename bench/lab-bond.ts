/**
 * Issue 6 benchmark: per profile, for direct over one ISP, the C pair (redsocks + Dante under
 * mptcpize) and ours (redsocks-ts + socks-server, conf/lab), in one lab run:
 *   - TTFB of a small request, in RTTs (median of 10)
 *   - aggregate download / upload as a fraction of the sum of the links (and of the best link)
 *   - TTFB under bulk load (head-of-line), median of 5
 *   - failover: a 15 MB download with isp1 (the default route) cut once a third has arrived,
 *     for 4 s: completion and the longest stall
 *   - new connections during that outage: successes of 5
 * Prints numbers; never fails on speed.
 *   npx tsx bench/lab-bond.ts [--profiles equal-20,lossy-10,asym] [--modes direct,c,ours] [--stale-loss-cnt N]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, destroyLabsOnSignals, ROOT } from '../tests/lab/lab';
import { PROFILES, rttMs, LabProfile } from '../tests/lab/profiles';
import { setupLab, preferCompiled } from '../tests/lab/gateway';
import { ModeRunner } from '../tests/lab/modes';
import { failoverRun, ttfbSeries, ttfbUnderLoad } from '../tests/lab/scenarios';
import { mbit, median, transfer } from '../tests/lab/traffic';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

interface Row {
  profile: string;
  mode: string;
  ttfbRtt?: number;
  downMbit?: number;
  downFrac?: number;
  upMbit?: number;
  upFrac?: number;
  holTtfbMs?: number;
  holRtt?: number;
  failoverOk?: boolean;
  failoverStallS?: number;
  failoverTotalS?: number;
  outageNewOk?: number;
  outageNewTtfbMs?: number;
  error?: string;
}

const fmt = (x: number | undefined, d = 2): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));

async function benchProfile(prof: LabProfile, modes: string[]): Promise<Row[]> {
  const rtt = rttMs(prof.isp1);
  const sumDown = prof.isp1.down.rateMbit + prof.isp2.down.rateMbit;
  const sumUp = prof.isp1.up.rateMbit + prof.isp2.up.rateMbit;
  const bestDown = Math.max(prof.isp1.down.rateMbit, prof.isp2.down.rateMbit);
  const sized = (rate: number, s: number): number => Math.max(2, Math.round((rate * s) / 8)) * 1e6;
  const lab = await Lab.create(prof);
  const stale = arg('stale-loss-cnt', '');
  const runner = new ModeRunner(lab, stale ? Number(stale) : undefined);
  const rows: Row[] = [];
  try {
    setupLab(lab, { compiled: preferCompiled(), staleLossCnt: stale ? Number(stale) : undefined });
    if (stale) console.log(`  net.mptcp.stale_loss_cnt=${stale} on both ends (instead of the setup tool's 2)`);
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
      try {
        const t = await ttfbSeries(lab, mode.src, 10);
        row.ttfbRtt = median(t.filter((x) => x.ok).map((x) => x.ttfbMs)) / rtt;
        const direct = name === 'direct';
        const down = await transfer(lab, mode.src.node, 'get', sized(direct ? prof.isp1.down.rateMbit : sumDown, 6), { local: mode.src.local, timeoutMs: 60000 });
        row.downMbit = down.ok ? mbit(down.bytes, down.ms - down.ttfbMs) : undefined;
        row.downFrac = row.downMbit !== undefined ? row.downMbit / sumDown : undefined;
        const up = await transfer(lab, mode.src.node, 'post', sized(direct ? prof.isp1.up.rateMbit : sumUp, 6), { local: mode.src.local, timeoutMs: 60000 });
        row.upMbit = up.ok ? mbit(up.bytes, up.ms) : undefined;
        row.upFrac = row.upMbit !== undefined ? row.upMbit / sumUp : undefined;
        console.log(`${tag} TTFB ${fmt(row.ttfbRtt)} RTT; down ${fmt(row.downMbit, 1)} Mbit/s${down.ok ? '' : ` FAILED ${down.error}`}; up ${fmt(row.upMbit, 1)} Mbit/s${up.ok ? '' : ` FAILED ${up.error}`}`);
        const hol = await ttfbUnderLoad(lab, mode.src, sized(direct ? prof.isp1.down.rateMbit : sumDown, 8), 5);
        row.holTtfbMs = median(hol.ttfb.filter((x) => x.ok).map((x) => x.ttfbMs));
        row.holRtt = row.holTtfbMs / rtt;
        console.log(`${tag} TTFB under bulk load ${fmt(row.holTtfbMs, 0)} ms = ${fmt(row.holRtt, 1)} RTT (${hol.ttfb.filter((x) => x.ok).length}/${hol.ttfb.length} ok)`);
        const f = await failoverRun(lab, mode.src, 15e6, 'isp1', {
          outageMs: 4000,
          parallel: direct,
          attemptTimeoutS: direct ? 2 : 3,
          log: (s) => console.log(`${tag} ${s}`),
        });
        row.failoverOk = f.transfer.ok;
        row.failoverStallS = f.transfer.maxStallMs / 1000;
        row.failoverTotalS = f.transfer.ms / 1000;
        row.outageNewOk = f.newOk;
        row.outageNewTtfbMs = median(f.newTtfb);
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
  console.log(`\n${prof.name}: ${prof.description}; links sum ${sumDown}/${sumUp} Mbit/s down/up, best single ${bestDown}; RTT ${rtt} ms (isp1)`);
  console.log('mode                  TTFB(RTT)  down Mbit/s (frac)  up Mbit/s (frac)  HoL TTFB(RTT)  15MB+cut: done  stall s  new conns in outage');
  for (const r of rows) {
    if (r.error && r.ttfbRtt === undefined) {
      console.log(`${r.mode.padEnd(22)}${r.error}`);
      continue;
    }
    console.log(
      `${r.mode.padEnd(22)}${fmt(r.ttfbRtt).padStart(9)}  ${fmt(r.downMbit, 1).padStart(10)} (${fmt(r.downFrac)})  ${fmt(r.upMbit, 1).padStart(9)} (${fmt(r.upFrac)})  ${fmt(r.holRtt, 1).padStart(13)}  ${String(r.failoverOk ? 'yes' : 'NO').padStart(14)}  ${fmt(r.failoverStallS).padStart(7)}  ${r.outageNewOk ?? '-'}/5${r.outageNewTtfbMs !== undefined && Number.isFinite(r.outageNewTtfbMs) ? ` (TTFB ${fmt(r.outageNewTtfbMs, 0)} ms)` : ''}`,
    );
  }
  console.log('');
  return rows;
}

if (require.main === module) {
  destroyLabsOnSignals();
  const profiles = arg('profiles', 'equal-20,lossy-10,asym').split(',');
  const modes = arg('modes', 'direct,c,ours').split(',');
  (async () => {
    const all: Row[] = [];
    for (const p of profiles) {
      console.log(`lab-bond: profile ${p}`);
      all.push(...(await benchProfile(PROFILES[p], modes)));
    }
    const out = path.join(ROOT, 'bench/out');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'lab-bond.json'), JSON.stringify(all, null, 2));
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
