/**
 * RLIMIT_NOFILE, the one reader of /proc/self/limits (Node has no getrlimit), and the one
 * writer, through util-linux prlimit(1) (Node has no setrlimit).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/**
 * The soft limit on open files: a number, Infinity for "unlimited", undefined when it cannot
 * be read (not Linux). Each caller states its own fallback.
 */
export function nofileSoftLimit(limitsFile = '/proc/self/limits'): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(limitsFile, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (!m) return undefined;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** setrlimit(RLIMIT_NOFILE, {n, n}) on this process. Throws with prlimit's message. */
export function setNofileLimit(n: number): void {
  try {
    execFileSync('prlimit', [`--pid=${process.pid}`, `--nofile=${n}:${n}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`setrlimit(RLIMIT_NOFILE, ${n}): ${e.stderr?.toString().trim() || e.message}`);
  }
}
