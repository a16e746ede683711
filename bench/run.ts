/**
 * Run every benchmark, one after another (each is also runnable alone with `npx tsx bench/X.ts`):
 * the other engineers' bench/*-bench.ts, then the lab benches. Prints numbers; a failing bench
 * is reported and the rest still run.   npm run bench [-- --only lab-ttfb,redsocks-bench]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

function list(): string[] {
  const files = fs.readdirSync(__dirname).filter((f) => f.endsWith('.ts') && f !== 'run.ts');
  const others = files.filter((f) => f.endsWith('-bench.ts')).sort();
  const lab = ['lab-ttfb.ts', 'lab-bond.ts', 'page-load.ts'].filter((f) => files.includes(f));
  return [...others, ...lab];
}

const i = process.argv.indexOf('--only');
const only = i >= 0 ? new Set(process.argv[i + 1].split(',').map((s) => s.replace(/\.ts$/, ''))) : undefined;
const results: Array<[string, string]> = [];
for (const f of list()) {
  if (only && !only.has(f.replace(/\.ts$/, ''))) continue;
  console.log(`\n==== ${f} ====`);
  const t0 = Date.now();
  const r = spawnSync(TSX, [path.join(__dirname, f)], { stdio: 'inherit', cwd: ROOT });
  const s = ((Date.now() - t0) / 1000).toFixed(0);
  results.push([f, r.status === 0 ? `ok (${s} s)` : `FAILED with ${r.status ?? r.signal} (${s} s)`]);
}
console.log('\n==== benchmarks ====');
for (const [f, s] of results) console.log(`${f.padEnd(28)} ${s}`);
