/**
 * Issue 5 proof: median time to the first response byte of a small HTTP request (20 runs)
 * over the two-ISP lab (equal-20: RTT 40 ms), per mode, in ms and in WAN RTTs.
 * Prints numbers; never fails on speed.   npx tsx bench/lab-ttfb.ts [--profile P] [--runs N]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Lab, destroyLabsOnSignals, ROOT } from '../tests/lab/lab';
import { PROFILES, rttMs } from '../tests/lab/profiles';
import { setupLab, preferCompiled } from '../tests/lab/gateway';
import { ModeRunner } from '../tests/lab/modes';
import { curlSmall, median, sleep } from '../tests/lab/traffic';

const MODES = ['direct', 'c', 'ours-plain', 'ours-oc', 'ours-oc-tfo', 'ours-oc-pool'];

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

export async function benchTtfb(profileName: string, runs: number): Promise<Array<Record<string, unknown>>> {
  const prof = PROFILES[profileName];
  const rtt = rttMs(prof.isp1);
  const lab = await Lab.create(prof);
  const runner = new ModeRunner(lab);
  const rows: Array<Record<string, unknown>> = [];
  try {
    setupLab(lab, { compiled: preferCompiled() });
    console.log(`lab-ttfb: profile ${prof.name} (${prof.description}); ${runs} runs per mode; RTT ${rtt} ms`);
    console.log('mode                   median TTFB   in RTTs   p10..p90 (ms)      ok');
    for (const name of MODES) {
      let mode;
      try {
        mode = await runner.start(name);
      } catch (e) {
        console.log(`${name.padEnd(22)} could not start: ${String(e).split('\n')[0]}`);
        rows.push({ mode: name, error: String(e).split('\n')[0] });
        continue;
      }
      try {
        // Warm-up: a TFO cookie, a filled pool, a cached server capability.
        for (let i = 0; i < 3; i++) await curlSmall(lab, mode.src.node, { local: mode.src.local });
        await sleep(300);
        const t: number[] = [];
        let ok = 0;
        for (let i = 0; i < runs; i++) {
          const r = await curlSmall(lab, mode.src.node, { local: mode.src.local });
          if (r.ok) {
            ok++;
            t.push(r.ttfbMs);
          }
          await sleep(100); // lets a pool refill between requests
        }
        const s = [...t].sort((a, b) => a - b);
        const med = median(t);
        const p = (q: number): string => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))].toFixed(0) : '-');
        console.log(`${mode.label.padEnd(22)} ${med.toFixed(1).padStart(8)} ms  ${(med / rtt).toFixed(2).padStart(6)}    ${p(0.1).padStart(5)}..${p(0.9).padEnd(5)}        ${ok}/${runs}`);
        rows.push({ mode: name, label: mode.label, medianMs: med, rtts: med / rtt, ok, runs });
      } finally {
        await mode.stop();
      }
    }
  } finally {
    await runner.close().catch(() => undefined);
    lab.destroy();
  }
  return rows;
}

if (require.main === module) {
  destroyLabsOnSignals();
  const profile = arg('profile', 'equal-20');
  benchTtfb(profile, Number(arg('runs', '20')))
    .then((rows) => {
      const out = path.join(ROOT, 'bench/out');
      fs.mkdirSync(out, { recursive: true });
      fs.writeFileSync(path.join(out, 'lab-ttfb.json'), JSON.stringify({ profile, rows }, null, 2));
    })
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
