/**
 * What the benches read from /proc about the processes under test: a process tree, its CPU
 * time and its PSS. Shared by every bench so that all of them count the same way.
 */
import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = 100;

/** The fields after `(comm)` in /proc/<pid>/stat (index 0 = state), or undefined once gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // raced with exit
  }
}

/** A process and all its descendants (Dante forks children that come and go). */
export function processTree(pid: number): number[] {
  const all = [pid];
  const procs = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  const parentOf = new Map(procs.map((p) => [p, Number(statFields(p)?.[1] ?? -1)]));
  for (let i = 0; i < all.length; i++) {
    for (const [p, ppid] of parentOf) if (ppid === all[i]) all.push(p);
  }
  return all;
}

/**
 * CPU seconds used so far: utime + stime + cutime + cstime, summed over `pids`. A reaped
 * child's CPU moves into its parent's cutime/cstime, so a process tree's total survives exits.
 */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const p of pids) {
    const f = statFields(p);
    if (f) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks / CLK_TCK;
}

/** Proportional set size in KB, summed over `pids` (/proc/<pid>/smaps_rollup). */
export function pssKb(pids: number[]): number {
  let kb = 0;
  for (const p of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // gone
    }
  }
  return kb;
}
