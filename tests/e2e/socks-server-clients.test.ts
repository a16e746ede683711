/**
 * Real third-party clients against socks-server on loopback: curl (socks5,
 * socks5-hostname, socks4, socks4a, user:pass right and wrong, with a password
 * file and with a real system user), ncat, proxychains4 and the socksv5 npm client.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { serverFrom, type Fixture } from '../../packages/socks-server/test/helpers/fixture';
import { removeTempDir, tempDir, tempSystemUser, type TempUser } from '@mptcp-proxy/lab';

const run = promisify(execFile);
const dir = tempDir('socks-e2e-');

let origin: http.Server;
let originPort: number;
let pw: Fixture;
let sys: Fixture;
let user: TempUser;
let sysUser = '';

async function curl(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run('curl', ['-s', '-m', '10', ...args], { encoding: 'utf8' });
    return { code: 0, out: stdout };
  } catch (e) {
    const err = e as { code?: number; stdout?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, out: err.stdout ?? '' };
  }
}

beforeAll(async () => {
  origin = http.createServer((req, res) => res.end(`hello from origin ${req.url}`));
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
  originPort = (origin.address() as AddressInfo).port;

  const hash = (await run('openssl', ['passwd', '-6', '-salt', 'e2esalt', 's3cret'], { encoding: 'utf8' })).stdout.trim();
  const pwfile = join(dir, 'passwd');
  writeFileSync(pwfile, `# users\nalice:${hash}\n`);
  pw = await serverFrom(`
internal: 127.0.0.1 port = 1080
external: 127.0.0.1
socksmethod: username none
extension.passwordfile: ${pwfile}
client pass { from: 0/0 to: 0/0
  log: error }
socks pass { from: 0/0 to: 0/0
  log: connect disconnect error }
`);

  user = tempSystemUser('sst', 'Sys-pass1');
  sysUser = user.name;
  sys = await serverFrom(`
internal: 127.0.0.1 port = 1080
external: 127.0.0.1
socksmethod: username
user.privileged: root
client pass { from: 0/0 to: 0/0
  log: error }
socks pass { from: 0/0 to: 0/0
  log: connect disconnect error }
`);
}, 30000);

afterAll(async () => {
  await pw?.close();
  await sys?.close();
  await new Promise((r) => origin?.close(r));
  user?.remove();
  removeTempDir(dir);
});

describe('curl', () => {
  test('--socks5', async () => {
    const r = await curl(['--socks5', `127.0.0.1:${pw.port}`, `http://127.0.0.1:${originPort}/a`]);
    expect(r).toEqual({ code: 0, out: 'hello from origin /a' });
  });

  test('--socks5-hostname (server resolves the name)', async () => {
    const r = await curl(['--socks5-hostname', `127.0.0.1:${pw.port}`, `http://localhost:${originPort}/b`]);
    expect(r).toEqual({ code: 0, out: 'hello from origin /b' });
    expect(pw.lines.some((l) => l.includes(`localhost.${originPort}`))).toBe(true);
  });

  test('--socks4 and --socks4a', async () => {
    expect(await curl(['--socks4', `127.0.0.1:${pw.port}`, `http://127.0.0.1:${originPort}/c`])).toEqual({ code: 0, out: 'hello from origin /c' });
    expect(await curl(['--socks4a', `127.0.0.1:${pw.port}`, `http://localhost:${originPort}/d`])).toEqual({ code: 0, out: 'hello from origin /d' });
  });

  test('password file: right password passes, wrong one is refused', async () => {
    const ok = await curl(['--proxy', `socks5://alice:s3cret@127.0.0.1:${pw.port}`, `http://127.0.0.1:${originPort}/e`]);
    expect(ok).toEqual({ code: 0, out: 'hello from origin /e' });
    expect(pw.lines.some((l) => l.includes('username%alice@127.0.0.1'))).toBe(true);
    const bad = await curl(['--proxy', `socks5://alice:wrong@127.0.0.1:${pw.port}`, `http://127.0.0.1:${originPort}/f`]);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toBe('');
    expect(pw.lines.some((l) => l.includes('password file authentication failed for user "alice"'))).toBe(true);
  });

  test('system user (getpwnam/getspnam + crypt): right and wrong password', async () => {
    const ok = await curl(['--proxy', `socks5://${sysUser}:Sys-pass1@127.0.0.1:${sys.port}`, `http://127.0.0.1:${originPort}/g`]);
    expect(ok).toEqual({ code: 0, out: 'hello from origin /g' });
    const bad = await curl(['--proxy', `socks5://${sysUser}:nope@127.0.0.1:${sys.port}`, `http://127.0.0.1:${originPort}/h`]);
    expect(bad.code).not.toBe(0);
    expect(sys.lines.some((l) => l.includes(`system password authentication failed for user "${sysUser}"`))).toBe(true);
    const none = await curl(['--socks5', `127.0.0.1:${sys.port}`, `http://127.0.0.1:${originPort}/i`]);
    expect(none.code).not.toBe(0);
  });
});

test('ncat --proxy-type socks5', async () => {
  const { stdout } = await run('bash', ['-c',
    `printf 'GET /ncat HTTP/1.0\\r\\n\\r\\n' | ncat --proxy 127.0.0.1:${pw.port} --proxy-type socks5 127.0.0.1 ${originPort}`],
  { encoding: 'utf8' });
  expect(stdout).toMatch(/^HTTP\/1\.[01] 200/);
  expect(stdout).toContain('hello from origin /ncat');
});

test('proxychains4 -f (config in a temp dir)', async () => {
  const conf = join(dir, 'proxychains.conf');
  writeFileSync(conf, `strict_chain\nquiet_mode\ntcp_read_time_out 15000\ntcp_connect_time_out 8000\n[ProxyList]\nsocks5 127.0.0.1 ${pw.port}\n`);
  const { stdout } = await run('proxychains4', ['-q', '-f', conf, 'curl', '-s', '-m', '10', `http://127.0.0.1:${originPort}/pc`], { encoding: 'utf8' });
  expect(stdout).toBe('hello from origin /pc');
  expect(pw.lines.some((l) => l.includes('tcp/connect [:') && l.includes(`127.0.0.1.${originPort}`))).toBe(true);
});

test('socksv5 npm client (none and username/password)', async () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const socks = require('socksv5');
  const fetchVia = (auths: unknown[]): Promise<string> => new Promise((resolve, reject) => {
    // socks.connect() needs net._normalizeConnectArgs (gone in Node 20); the Client class does not.
    const c = new socks.Client({ proxyHost: '127.0.0.1', proxyPort: pw.port, auths });
    c.connect({ host: '127.0.0.1', port: originPort }, (s: import('node:net').Socket) => {
      let body = '';
      s.on('data', (d: Buffer) => (body += d.toString()));
      s.on('end', () => resolve(body));
      s.write('GET /npm HTTP/1.0\r\n\r\n');
    });
    c.on('error', reject);
  });
  expect(await fetchVia([socks.auth.None()])).toContain('hello from origin /npm');
  expect(await fetchVia([socks.auth.UserPassword('alice', 's3cret')])).toContain('hello from origin /npm');
});
