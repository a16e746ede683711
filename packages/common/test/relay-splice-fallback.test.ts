import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

// The Relay's mode once it has finished: the switch failed, so the JS pipes carried every byte.
test('a relay whose splice switch fails for want of fds carries on in JS without losing a byte', () => {
  const fixture = path.join(__dirname, 'fixtures', 'splice-emfile.ts');
  const out = execFileSync('npx', ['tsx', fixture], { encoding: 'utf8', timeout: 60000, cwd: path.join(__dirname, '..', '..', '..') });
  const r = JSON.parse(out.trim().split('\n').pop()!);
  expect(r).toEqual({ mode: 'js', echoed: 1 << 20, same: true });
});
