/** RLIMIT_NOFILE: read from /proc, set through util-linux prlimit(1) (Node has no setrlimit). */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

export function nofileSoftLimit(): number {
  try {
    const text = fs.readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (m && m[1] !== 'unlimited') return Number(m[1]);
  } catch {
    // not Linux
  }
  return 1024;
}

/** `rlimit_nofile = N`: setrlimit(RLIMIT_NOFILE, {N, N}) on this process. Throws with prlimit's message. */
export function setNofileLimit(n: number): void {
  try {
    execFileSync('prlimit', [`--pid=${process.pid}`, `--nofile=${n}:${n}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`setrlimit(RLIMIT_NOFILE, ${n}): ${e.stderr?.toString().trim() || e.message}`);
  }
}
