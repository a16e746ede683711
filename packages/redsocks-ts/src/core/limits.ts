/** The current RLIMIT_NOFILE soft limit, read from /proc (Node has no getrlimit). */
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
