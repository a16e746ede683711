/**
 * Rules end to end: allowed and blocked by from / to / port / command / user,
 * each with the REP the client sees and the Dante log line.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RawClient, ipv4Request, serverFrom, sink, userPass, type Fixture, type Sink } from './helpers/fixture';
import { removeTempDir, tempDir } from '@mptcp-proxy/lab';

const dir = tempDir('socks-rules-');
afterAll(() => removeTempDir(dir));
const pwfile = join(dir, 'passwd');
const hash = (p: string): string => execFileSync('openssl', ['passwd', '-6', '-salt', 'rules', p], { encoding: 'utf8' }).trim();
writeFileSync(pwfile, `alice:${hash('alicepw')}\nbob:${hash('bobpw')}\n`);

let fx: Fixture;
let open: Sink;
let blockedPort: Sink;
let bobOnly: Sink;

beforeAll(async () => {
  open = await sink();
  blockedPort = await sink();
  bobOnly = await sink();
  fx = await serverFrom(`
internal: 127.0.0.1 port = 1080
external: 127.0.0.1
socksmethod: username none
extension.passwordfile: ${pwfile}
client block {
  from: 127.0.0.2/32 to: 0/0
  log: connect error
}
client pass {
  from: 0/0 to: 0/0
  log: error
}
socks block {
  from: 127.0.0.3/32 to: 0/0
  log: connect error
}
socks block {
  from: 0/0 to: 127.0.0.5/32
  log: connect error
}
socks block {
  from: 0/0 to: 0/0 port = ${blockedPort.port}
  log: connect error
}
socks block {
  from: 0/0 to: 0/0
  command: bind
  log: connect error
}
socks pass {
  from: 0/0 to: 0/0 port = ${bobOnly.port}
  socksmethod: username
  user: bob
  log: connect
}
socks block {
  from: 0/0 to: 0/0 port = ${bobOnly.port}
  log: connect error
}
socks pass {
  from: 0/0 to: 0/0
  command: connect udpassociate
  log: connect disconnect error
}
`);
});

afterAll(async () => {
  await fx.close();
  await Promise.all([open.close(), blockedPort.close(), bobOnly.close()]);
});

async function request(opts: { from?: string; cmd?: number; ip?: string; port: number; auth?: [string, string] }): Promise<number> {
  const c = await RawClient.connect(fx.port, '127.0.0.1', opts.from);
  const greet = opts.auth ? Buffer.concat([Buffer.from([5, 1, 2]), userPass(...opts.auth)]) : Buffer.from([5, 1, 0]);
  c.write(Buffer.concat([greet, ipv4Request(opts.cmd ?? 1, opts.ip ?? '127.0.0.1', opts.port)]));
  const head = await c.read(opts.auth ? 4 : 2);
  expect(head[1]).toBe(opts.auth ? 2 : 0);
  if (opts.auth) expect(head[3]).toBe(0);
  const rep = await c.read(10);
  c.destroy();
  return rep[1];
}

const logged = (re: RegExp): boolean => fx.lines.some((l) => re.test(l));

test('client rule blocks by from: closed at accept, no byte, block(1) tcp/accept', async () => {
  const c = await RawClient.connect(fx.port, '127.0.0.1', '127.0.0.2');
  c.write([5, 1, 0]);
  expect((await c.untilEnd()).length).toBe(0);
  expect(logged(/info: block\(1\): tcp\/accept \]: 127\.0\.0\.2\.\d+ 127\.0\.0\.1\.\d+$/)).toBe(true);
});

test('socks rule blocks by from: REP 02 and block(1) tcp/connect', async () => {
  expect(await request({ from: '127.0.0.3', port: open.port })).toBe(2);
  expect(logged(new RegExp(`block\\(1\\): tcp/connect \\]: 127\\.0\\.0\\.3\\.\\d+ 127\\.0\\.0\\.1\\.\\d+ -> 0\\.0\\.0\\.0\\.0 127\\.0\\.0\\.1\\.${open.port}`))).toBe(true);
  expect(logged(/block\(2\): tcp\/accept \]: 127\.0\.0\.3\.\d+ .*: blocked by higher-level socks-rule #1/)).toBe(true);
});

test('socks rule blocks by to: REP 02, block(2)', async () => {
  expect(await request({ ip: '127.0.0.5', port: open.port })).toBe(2);
  expect(logged(new RegExp(`block\\(2\\): tcp/connect \\]: .* -> 0\\.0\\.0\\.0\\.0 127\\.0\\.0\\.5\\.${open.port}`))).toBe(true);
});

test('socks rule blocks by port: REP 02, block(3), destination untouched', async () => {
  expect(await request({ port: blockedPort.port })).toBe(2);
  expect(blockedPort.connections).toBe(0);
  expect(logged(new RegExp(`block\\(3\\): tcp/connect \\]: .*127\\.0\\.0\\.1\\.${blockedPort.port}$`))).toBe(true);
});

test('socks rule blocks by command: BIND gets REP 02, block(4) tcp/bind', async () => {
  expect(await request({ cmd: 2, port: 0 })).toBe(2);
  expect(logged(/block\(4\): tcp\/bind \]:/)).toBe(true);
});

test('user: bob passes, alice is blocked by the next rule', async () => {
  expect(await request({ port: bobOnly.port, auth: ['bob', 'bobpw'] })).toBe(0);
  expect(logged(new RegExp(`pass\\(5\\): tcp/connect \\[: username%bob@127\\.0\\.0\\.1\\.\\d+ 127\\.0\\.0\\.1\\.\\d+ -> 127\\.0\\.0\\.1\\.\\d+ 127\\.0\\.0\\.1\\.${bobOnly.port}`))).toBe(true);
  expect(await request({ port: bobOnly.port, auth: ['alice', 'alicepw'] })).toBe(2);
  expect(logged(/block\(6\): tcp\/connect \]: username%alice@127\.0\.0\.1/)).toBe(true);
  // Without credentials the username-only rule cannot match either.
  expect(await request({ port: bobOnly.port })).toBe(2);
});

test('allowed connect and udpassociate: REP 00 and pass(7) lines', async () => {
  expect(await request({ port: open.port })).toBe(0);
  expect(await request({ cmd: 3, ip: '0.0.0.0', port: 0 })).toBe(0);
  expect(logged(new RegExp(`pass\\(7\\): tcp/connect \\[: 127\\.0\\.0\\.1\\.\\d+ 127\\.0\\.0\\.1\\.\\d+ -> 127\\.0\\.0\\.1\\.\\d+ 127\\.0\\.0\\.1\\.${open.port}`))).toBe(true);
  expect(logged(/pass\(7\): udp\/udpassociate \[:/)).toBe(true);
});
