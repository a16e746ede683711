/**
 * TLS on the WAN leg (docs/tls.md) in the two-ISP lab: median time to the first response byte
 * per mode with and without TLS (bench/lab-ttfb.ts' method), then an upload through a pooled
 * connection after it sat idle (the warm pool's stall, packages/redsocks-ts/docs on the pool),
 * with and without TLS. Prints numbers; never fails on speed.
 *   npx tsx bench/lab-tls.ts [--profile equal-20] [--runs 20] [--warmup 30] [--idle-s 6] [--upload-mb 10]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { destroyLabsOnSignals, PROFILES, ROOT, curlSmall, mbit, sleep, transfer, withModeLab } from '@mptcp-proxy/lab';
import { benchTtfb } from './lab-ttfb';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

async function uploadAfterIdle(profile: string, modes: string[], idleS: number, bytes: number): Promise<Array<Record<string, unknown>>> {
  const prof = PROFILES[profile];
  const sum = prof.isp1.up.rateMbit + prof.isp2.up.rateMbit;
  const rows: Array<Record<string, unknown>> = [];
  await withModeLab(prof, async (lab, runner) => {
    console.log(`\nupload of ${bytes / 1e6} MB through the pool after ${idleS} s idle (links' upload sum ${sum} Mbit/s)`);
    await runner.each(modes, async (mode) => {
      for (let i = 0; i < 5; i++) await curlSmall(lab, 'lan');
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) {
        await sleep(idleS * 1000);
        const r = await transfer(lab, 'lan', 'post', bytes, { timeoutMs: 120000 });
        runs.push(r.ok ? mbit(r.bytes, r.ms) : NaN);
      }
      const txt = runs.map((x) => x.toFixed(1)).join(', ');
      console.log(`${mode.label.padEnd(22)} ${txt} Mbit/s (${runs.map((x) => (x / sum).toFixed(2)).join(', ')} of sum)`);
      rows.push({ mode: mode.name, mbit: runs, ofSum: runs.map((x) => x / sum) });
    });
  });
  return rows;
}

if (require.main === module) {
  destroyLabsOnSignals();
  const profile = arg('profile', 'equal-20');
  void (async () => {
    const ttfb = await benchTtfb(profile, Number(arg('runs', '20')), 'rr',
      ['ours-plain', 'ours-plain-tls', 'ours-oc', 'ours-oc-tls', 'ours-oc-pool', 'ours-oc-pool-tls'], Number(arg('warmup', '30')));
    const upload = await uploadAfterIdle(profile, ['ours-oc-pool', 'ours-oc-pool-tls'], Number(arg('idle-s', '6')), Number(arg('upload-mb', '10')) * 1e6);
    const out = path.join(ROOT, 'bench/out');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'lab-tls.json'), JSON.stringify({ profile, ttfb, upload }, null, 2));
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
