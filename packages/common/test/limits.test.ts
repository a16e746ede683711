/** The one /proc/self/limits reader: a number, Infinity for unlimited, undefined when unreadable. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nofileSoftLimit } from '@mptcp-proxy/common';

const HEAD = 'Limit                     Soft Limit           Hard Limit           Units     \n';

function limitsFile(body: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'limits-'));
  const f = path.join(dir, 'limits');
  fs.writeFileSync(f, HEAD + body);
  return f;
}

test('reads the soft limit of "Max open files"', () => {
  expect(nofileSoftLimit(limitsFile('Max processes             95617                95617                processes \nMax open files            4096                 524288               files     \n'))).toBe(4096);
  expect(nofileSoftLimit(limitsFile('Max open files            unlimited            unlimited            files     \n'))).toBe(Infinity);
  expect(nofileSoftLimit(limitsFile('Max processes             1                    1                    processes \n'))).toBeUndefined();
  expect(nofileSoftLimit('/nonexistent/limits')).toBeUndefined();
});

test('this process: the same number the kernel reports to prlimit(1)', () => {
  const soft = Number(execFileSync('prlimit', ['--pid', String(process.pid), '--nofile', '--raw', '--noheadings', '--output=SOFT'], { encoding: 'utf8' }).trim());
  expect(nofileSoftLimit()).toBe(soft);
});
