/**
 * Fuzzing (fast-check) of both config grammars and every SOCKS4/4a/5, RFC 1929, UDP header,
 * optimistic-connect and HTTP-CONNECT parser (targets in fuzz-targets.ts): inputs per target
 * (each parsed whole and cut at every byte; configs cut for 1 input in 64), parse calls,
 * crashes. Not a test: it prints a table.
 *   npx tsx bench/fuzz-bench.ts [--inputs 1000000] [--seed N] [--minutes M per target] [--only name,name]
 * Stack traces are off while it runs (errors are the parsers' normal answer and a stack costs
 * more than the parse); a crash is re-run with them on for the report.
 */
import { TARGETS, fuzz, type FuzzResult } from './fuzz-targets';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

const inputs = Number(arg('inputs', process.env.FUZZ_INPUTS ?? '1000000'));
const seed = Number(arg('seed', String(Date.now() % 2 ** 31)));
const minutes = Number(arg('minutes', '15'));
const only = arg('only', '');

const rows: FuzzResult[] = [];
for (const t of TARGETS) {
  if (only && !only.split(',').some((o) => t.name.toLowerCase().includes(o.toLowerCase()))) continue;
  Error.stackTraceLimit = 0;
  let r = fuzz(t, inputs, seed, Date.now() + minutes * 60_000);
  Error.stackTraceLimit = 10;
  if (r.crashes > 0) r = { ...r, counterexample: fuzz(t, r.inputs, seed).counterexample ?? r.counterexample };
  rows.push(r);
  console.log(`${t.name.padEnd(32)} ${String(r.inputs).padStart(9)} inputs ${String(r.parses).padStart(11)} parses `
    + `${r.crashes} crash${r.crashes === 1 ? '' : 'es'} ${r.seconds.toFixed(0).padStart(5)} s`);
  if (r.counterexample) console.log(`  counterexample: ${r.counterexample}`);
}
console.log(`\nseed ${seed}; ${rows.reduce((n, r) => n + r.inputs, 0)} inputs, ${rows.reduce((n, r) => n + r.crashes, 0)} crashes`);
console.log('| target | inputs | parse calls | crashes | seconds |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.name} | ${r.inputs} | ${r.parses} | ${r.crashes} | ${r.seconds.toFixed(0)} |`);
process.exitCode = rows.some((r) => r.crashes > 0) ? 1 : 0;
