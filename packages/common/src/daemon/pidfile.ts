/** `-p PIDFILE`: the pid and a newline, as redsocks and Dante write it. */
import * as fs from 'node:fs';

export function writePidfile(path: string | undefined, pid = process.pid): void {
  if (path !== undefined) fs.writeFileSync(path, `${pid}\n`);
}

/** Removes the pidfile if it is there (a missing one is not an error). */
export function removePidfile(path: string | undefined): void {
  if (path !== undefined) fs.rmSync(path, { force: true });
}
