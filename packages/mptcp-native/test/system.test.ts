/** syslog over a unix datagram socket, crypt(3), and system account verification (passwd/shadow). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import {
  cryptGensalt, cryptHash, openSyslog, verifyPassword, verifySystemPassword, verifySystemPasswordAsync,
} from 'mptcp-native';
import { sh, waitFor } from '@mptcp-proxy/lab';

const PY = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

test('openSyslog sends one RFC 3164 datagram per message', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mptcp-syslog-'));
  const sockPath = path.join(dir, 'log');
  // Node cannot bind a unix datagram socket, so python3 plays syslogd and prints 2 datagrams.
  const py = spawn(PY, ['-c', [
    'import socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    `s.bind(${JSON.stringify(sockPath)})`,
    'print("ready", flush=True)',
    'for _ in range(2): print(s.recv(65536).decode(), flush=True)',
  ].join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  py.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitFor(() => out.includes('ready'), 10000, 'python receiver');
    const log = openSyslog('mptest', 'local3', { path: sockPath });
    log.send('warning', 'hello syslog');
    log.send(7, 'second line');
    log.close();
    await waitFor(() => out.split('\n').filter(Boolean).length >= 3, 10000, 'two datagrams');
    const [, first, second] = out.split('\n');
    expect(first).toMatch(new RegExp(`^<156>[A-Z][a-z]{2} [ 1-3]\\d \\d\\d:\\d\\d:\\d\\d mptest\\[${process.pid}\\]: hello syslog$`));
    expect(second).toMatch(/^<159>.* mptest\[\d+\]: second line$/);
    expect(log.dropped).toBe(0);
  } finally {
    py.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing syslog socket: dropped lines (like syslog(3)), or the errno with strict', () => {
  const missing = `/nonexistent/log-${process.pid}`;
  expect(() => openSyslog('x', 'daemon', { path: missing, strict: true })).toThrow(
    expect.objectContaining({ code: 'ENOENT', syscall: 'connect' }));
  const lenient = openSyslog('x', 'daemon', { path: missing });
  lenient.send('info', 'nobody listens');
  lenient.send('info', 'nobody listens');
  expect(lenient.dropped).toBe(2);
  lenient.close();
  expect(() => openSyslog('x', 'nosuchfacility', { path: '/dev/null' })).toThrow(/unknown facility/);
});

test('cryptHash round-trips SHA-512 ($6$) and bcrypt ($2b$)', () => {
  const sha = cryptHash('s3cret', '$6$saltsaltsalt');
  expect(sha).toMatch(/^\$6\$saltsaltsalt\$[./0-9A-Za-z]{86}$/);
  expect(cryptHash('s3cret', sha)).toBe(sha);
  expect(cryptHash('other', sha)).not.toBe(sha);
  const bcrypt = cryptHash('s3cret', '$2b$04$abcdefghijklmnopqrstuu');
  expect(bcrypt).toMatch(/^\$2b\$04\$/);
  expect(bcrypt).toHaveLength(60);
  expect(cryptHash('s3cret', bcrypt)).toBe(bcrypt);
  expect(cryptHash('nope', bcrypt)).not.toBe(bcrypt);
  expect(() => cryptHash('x', '$99$bogus')).toThrow(expect.objectContaining({ syscall: 'crypt' }));
});

describe('verifySystemPassword with a temporary system user', () => {
  const user = `mpt${process.pid.toString(36)}`;
  beforeAll(() => {
    sh(`useradd -M -s /usr/sbin/nologin ${user}`);
  });
  afterAll(() => {
    sh(`userdel ${user}`, { allowFail: true });
  });

  test.each(['YESCRYPT', 'SHA512'])('%s hash as chpasswd writes it', (method) => {
    sh(`echo '${user}:Corr3ct horse' | chpasswd -c ${method}`);
    const hash = sh(`getent shadow ${user}`).split(':')[1];
    expect(hash.startsWith(method === 'YESCRYPT' ? '$y$' : '$6$')).toBe(true);
    expect(verifySystemPassword(user, 'Corr3ct horse')).toBe(true);
    expect(verifySystemPassword(user, 'wrong horse')).toBe(false);
    expect(verifySystemPassword(user, '')).toBe(false);
  });

  test('locked and unknown accounts never verify', () => {
    sh(`echo '${user}:pw' | chpasswd -c SHA512 && usermod -L ${user}`);
    expect(verifySystemPassword(user, 'pw')).toBe(false);
    expect(verifySystemPassword(`nosuch${process.pid}`, 'pw')).toBe(false);
  });

  test('a NUL in the user name is refused, never truncated ("user\\0zzz" is not "user")', async () => {
    sh(`usermod -U ${user} 2>/dev/null; echo '${user}:Nul-pw1' | chpasswd -c SHA512`);
    expect(verifySystemPassword(user, 'Nul-pw1')).toBe(true);
    expect(() => verifySystemPassword(`${user}\0zzz`, 'Nul-pw1')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    await expect(verifySystemPasswordAsync(`${user}\0zzz`, 'Nul-pw1', cryptGensalt('$6$'))).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(verifySystemPasswordAsync(user, 'Nul-pw1\0x', cryptGensalt('$6$'))).rejects.toMatchObject({ code: 'EINVAL' });
  });

  test('verifySystemPasswordAsync: right, wrong, unknown and locked accounts, off the event loop', async () => {
    sh(`usermod -U ${user} 2>/dev/null; echo '${user}:Async-pw1' | chpasswd -c YESCRYPT`);
    const dummy = cryptGensalt('$y$');
    expect(await verifySystemPasswordAsync(user, 'Async-pw1', dummy)).toBe(true);
    expect(await verifySystemPasswordAsync(user, 'wrong', dummy)).toBe(false);
    expect(await verifySystemPasswordAsync(`nosuch${process.pid}`, 'Async-pw1', dummy)).toBe(false);
    sh(`usermod -L ${user}`);
    expect(await verifySystemPasswordAsync(user, 'Async-pw1', dummy)).toBe(false);
  });
});

describe('verifyPassword (thread pool)', () => {
  const slow = cryptHash('pw', '$2b$12$abcdefghijklmnopqrstuu');

  test('matches what crypt says; an unknown user (no hash) is checked against the dummy and never matches', async () => {
    expect(await verifyPassword('pw', slow, slow)).toBe(true);
    expect(await verifyPassword('nope', slow, slow)).toBe(false);
    // Even the dummy's own password never passes for an unknown user.
    expect(await verifyPassword('pw', undefined, slow)).toBe(false);
    await expect(verifyPassword('p\0w', slow, slow)).rejects.toMatchObject({ code: 'EINVAL' });
  });

  test('the event loop runs while a bcrypt check does: a timer set after the call fires before it resolves', async () => {
    const order: string[] = [];
    const check = verifyPassword('nope', slow, slow).then(() => order.push('check'));
    setTimeout(() => order.push('timer'), 1);
    await check;
    expect(order).toEqual(['timer', 'check']);
  });

  test('an unknown user costs about what a wrong password costs', async () => {
    const time = async (hash: string | undefined): Promise<number> => {
      const t0 = performance.now();
      await verifyPassword('guess', hash, slow);
      return performance.now() - t0;
    };
    const known = Math.min(await time(slow), await time(slow));
    const unknown = Math.min(await time(undefined), await time(undefined));
    expect(unknown).toBeGreaterThan(0.5 * known);
  });

  test('cryptGensalt gives a fresh setting of the scheme asked for', () => {
    expect(cryptGensalt('$6$')).toMatch(/^\$6\$/);
    expect(cryptGensalt('$2b$', 10)).toMatch(/^\$2b\$10\$/);
    expect(cryptGensalt('$y$')).not.toBe(cryptGensalt('$y$'));
  });
});
