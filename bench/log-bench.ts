/**
 * The logging stack's cost per line, in one process: redsocks-ts' log (common's createLogger,
 * winston, a file target) against the floor it replaced (format the same line, one
 * fs.writeSync). Both write to /dev/null, so the numbers are the CPU of the stack itself.
 * Prints a table; never asserts.
 *
 *   npx tsx bench/log-bench.ts            (env: LINES=200000)
 */
import * as fs from 'node:fs';
import { logClock, secUsecStamp } from '@mptcp-proxy/common';
import { createRedsocksLog } from 'redsocks-ts';

const LINES = Number(process.env.LINES ?? 200_000);
const MSG = '[192.168.77.2:51234->198.51.100.2:80]: accepted';
const WHERE = 'redsocks.c:0 redsocks_log_write_plain(...)';

function measure(name: string, write: () => void): { name: string; nsPerLine: number } {
  for (let i = 0; i < 20_000; i++) write(); // JIT
  const t0 = process.cpuUsage();
  const w0 = process.hrtime.bigint();
  for (let i = 0; i < LINES; i++) write();
  const cpu = process.cpuUsage(t0);
  const wall = Number(process.hrtime.bigint() - w0);
  return { name, nsPerLine: Math.min(wall, (cpu.user + cpu.system) * 1000) / LINES };
}

async function main(): Promise<void> {
  const fd = fs.openSync('/dev/null', 'a');
  const floor = measure('format + fs.writeSync (the floor)', () => {
    fs.writeSync(fd, `${secUsecStamp(logClock())} info ${WHERE} ${MSG}\n`);
  });
  const log = createRedsocksLog([{ kind: 'file', path: '/dev/null' }], { levels: { debug: false, info: true } });
  const stack = measure('redsocks-ts log (winston, file target)', () => log.info(MSG, WHERE));
  const off = measure('redsocks-ts log, level disabled', () => log.debug(MSG, WHERE));
  await log.close();
  const rows = [floor, stack, off];
  process.stdout.write(`logging cost per line (${LINES} lines, /dev/null)\n`);
  for (const r of rows) process.stdout.write(`${r.name.padEnd(42)} ${(r.nsPerLine / 1000).toFixed(2)} us/line\n`);
  process.stdout.write(`winston's share: ${((stack.nsPerLine - floor.nsPerLine) / 1000).toFixed(2)} us/line over the floor\n`);
}

void main();
