/**
 * common's daemon lifecycle: pidfile, daemonizing (and not under systemd), the signals (with
 * real signals to a child process) and the privilege drop's order.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { daemonize, removePidfile, systemdForegroundNotice, underSystemd, writePidfile } from '@mptcp-proxy/common';

const ROOT = path.join(__dirname, '..', '..', '..');

test('pidfile: the pid and a newline; removing a missing one is fine', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pid-'));
  const f = path.join(dir, 'x.pid');
  writePidfile(f, 4242);
  expect(fs.readFileSync(f, 'utf8')).toBe('4242\n');
  removePidfile(f);
  expect(fs.existsSync(f)).toBe(false);
  removePidfile(f);
  writePidfile(undefined);
  fs.rmSync(dir, { recursive: true });
});

test('systemd is seen by INVOCATION_ID or NOTIFY_SOCKET; daemonize() then stays in the foreground', () => {
  expect(underSystemd({})).toBe(false);
  expect(underSystemd({ INVOCATION_ID: '0f1e' })).toBe(true);
  expect(underSystemd({ NOTIFY_SOCKET: '/run/systemd/notify' })).toBe(true);
  expect(daemonize({ marker: 'X_DAEMON', args: [], env: { INVOCATION_ID: 'a' } })).toBe('systemd');
  // the detached child recognises itself, under systemd too
  expect(daemonize({ marker: 'X_DAEMON', args: [], env: { X_DAEMON: '1', INVOCATION_ID: 'a' } })).toBe('child');
  expect(systemdForegroundNotice('daemon = on')).toMatch(/^daemon = on is ignored under systemd/);
});

describe('signals', () => {
  test('SIGHUP reopens then reloads, never two reloads at once, one more for SIGHUPs during one; SIGUSR1 dumps; SIGTERM stops once', async () => {
    const child = spawn('npx', ['tsx', path.join(__dirname, 'fixtures', 'signals-child.ts')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const until = async (re: RegExp): Promise<void> => {
      for (let i = 0; i < 600 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 25));
      expect(out).toMatch(re);
    };
    const exited = new Promise((r) => child.once('exit', r));
    await until(/ready/);
    // npx and tsx run the fixture in a child process: signal the node that prints
    const pid = Number(fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
    const leaf = (p: number): number => {
      const kids = fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim();
      return kids ? leaf(Number(kids.split(/\s+/)[0])) : p;
    };
    const node = leaf(pid);
    // one signal at a time: the kernel merges a signal that is already pending
    process.kill(node, 'SIGHUP');
    await until(/reload start/);
    process.kill(node, 'SIGHUP');
    await until(/(reopen\n)[^]*reopen\n/);
    process.kill(node, 'SIGHUP');
    await until(/(reopen\n)[^]*(reopen\n)[^]*reopen\n/);
    process.kill(node, 'SIGUSR1');
    await until(/(reload end\n)[^]*reload end\n/);
    await new Promise((r) => setTimeout(r, 400));
    process.kill(node, 'SIGTERM');
    await until(/stop SIGTERM/);
    process.kill(node, 'SIGINT');
    await exited;
    const lines = out.trim().split('\n');
    expect(lines).toEqual(['ready', 'reopen', 'reload start', 'reopen', 'reopen', 'dump', 'reload end', 'reload start', 'reload end', 'stop SIGTERM 15']);
  });
});
