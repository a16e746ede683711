/** syslog over a unix datagram socket, crypt(3), and system account verification (passwd/shadow). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { cryptHash, openSyslog, verifySystemPassword } from 'mptcp-native';
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
});
