/**
 * Optimistic connect end to end: redsocks-ts' socks5 upstream (through the real dialer) against
 * our socks-server on loopback, with a real destination that records every byte. Every failure
 * (auth, rule block, refused connect) must leave zero early bytes at the destination and reset
 * the LAN client.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cryptHash } from 'mptcp-native';
import { parseDantedConfig, startServer, type SocksServer } from 'socks-server';
import { ServerCapabilities, Upstreams, serverKey, createDialer, type Dialer, type RedsocksSection, type UpstreamProtocol } from 'redsocks-ts';
import {
  appData,
  closedPort,
  harness,
  recordingDestination,
  testSection,
  type Destination,
  type Harness,
} from '../../packages/redsocks-ts/test/helpers/upstream';

/** The daemon's per-process state, fresh for each test: the server-capabilities cache and its socks5 protocol. */
let caps = new ServerCapabilities();
let socks5: UpstreamProtocol = new Upstreams(caps).protocolFor('socks5');
function freshState(): void {
  caps = new ServerCapabilities();
  socks5 = new Upstreams(caps).protocolFor('socks5');
}

let tmp: string;
let open: SocksServer;
let auth: SocksServer;
let dest: Destination;
let blocked: Destination;
const cleanup: Array<() => unknown> = [];

async function server(text: string): Promise<SocksServer> {
  const { config } = parseDantedConfig(text, 'oc-e2e.conf');
  for (const i of config.internal) i.port = 0;
  const srv = await startServer(config, { tickMs: 50 });
  cleanup.push(() => srv.close());
  return srv;
}

const portOf = (s: SocksServer): number => s.addresses()[0].port;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'f2-oc-'));
  dest = await recordingDestination({ reply: 'HTTP/1.0 200 OK\r\n\r\n' });
  blocked = await recordingDestination({ reply: 'never' });
  const rules = `
client pass { from: 0/0 to: 0/0 }
socks block { from: 0/0 to: 127.0.0.1/32 port = ${blocked.port} }
socks pass { from: 0/0 to: 0/0 }
`;
  open = await server(`internal: 127.0.0.1 port = 1080
external: 127.0.0.1
socksmethod: none
clientmethod: none
extension.optimistic: yes
${rules}`);
  const pw = path.join(tmp, 'passwd');
  fs.writeFileSync(pw, `alice:${cryptHash('s3cret', '$6$f2saltxx')}\n`);
  auth = await server(`internal: 127.0.0.1 port = 1080
external: 127.0.0.1
socksmethod: username
clientmethod: none
extension.optimistic: yes
extension.passwordfile: ${pw}
${rules}`);
});

afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
  await dest.close();
  await blocked.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const hs: Harness[] = [];
let dialer: Dialer | undefined;
afterEach(() => {
  for (const h of hs.splice(0)) h.close();
  dialer?.close();
  dialer = undefined;
  freshState();
});

async function attempt(
  over: Partial<RedsocksSection>,
  destPort: number,
  early: string,
): Promise<{ h: Harness; result: Promise<unknown> }> {
  const inst = testSection({ optimistic: 'on', optimisticGatherMs: 2000, ...over });
  dialer = createDialer(inst);
  const d = dialer;
  const h = await harness(inst, { address: '127.0.0.1', port: destPort }, (o) => d.dial(o));
  hs.push(h);
  h.app.write(early);
  return { h, result: h.run(socks5) };
}

test('OC without auth: early data reaches the destination once, the reply comes back, server cached as OC', async () => {
  const before = dest.received().length;
  const { h, result } = await attempt({ port: portOf(open) }, dest.port, 'GET /oc HTTP/1.0\r\n\r\n');
  await result;
  expect((await appData(h, 19)).toString()).toBe('HTTP/1.0 200 OK\r\n\r\n');
  expect(dest.received().subarray(before).toString()).toBe('GET /oc HTTP/1.0\r\n\r\n');
  expect(caps.get(serverKey('127.0.0.1', portOf(open)))).toBe('oc');
});

test('OC with RFC 1929 (A6): works with the right password', async () => {
  const before = dest.received().length;
  const { h, result } = await attempt(
    { port: portOf(auth), login: 'alice', password: 's3cret' },
    dest.port,
    'GET /auth HTTP/1.0\r\n\r\n',
  );
  await result;
  expect((await appData(h, 19)).toString()).toBe('HTTP/1.0 200 OK\r\n\r\n');
  expect(dest.received().subarray(before).toString()).toBe('GET /auth HTTP/1.0\r\n\r\n');
});

test('auth failure: client reset, not one early byte at the destination', async () => {
  const conns = dest.connections;
  const before = dest.received().length;
  const { h, result } = await attempt(
    { port: portOf(auth), login: 'alice', password: 'wrong' },
    dest.port,
    'POST /transfer HTTP/1.0\r\n\r\n',
  );
  await expect(result).rejects.toMatchObject({ resetClient: true, code: 'ESOCKS5_AUTH' });
  expect(h.appReceived().length).toBe(0);
  expect(dest.connections).toBe(conns);
  expect(dest.received().length).toBe(before);
});

test('rule block: REP 2, client reset, the blocked destination saw nothing', async () => {
  const { h, result } = await attempt({ port: portOf(open) }, blocked.port, 'DELETE / HTTP/1.0\r\n\r\n');
  await expect(result).rejects.toMatchObject({
    resetClient: true,
    message: 'Socks5 server status: connection not allowed by ruleset (2)',
  });
  expect(h.appReceived().length).toBe(0);
  expect(blocked.connections).toBe(0);
  expect(blocked.received().length).toBe(0);
});

test('connect refused: REP 5, client reset', async () => {
  const port = await closedPort();
  const { h, result } = await attempt({ port: portOf(open) }, port, 'hello');
  await expect(result).rejects.toMatchObject({
    resetClient: true,
    message: 'Socks5 server status: connection refused (5)',
  });
  expect(h.appReceived().length).toBe(0);
});

test('optimistic = auto: first connection probes (no early data), the second is OC', async () => {
  const before = dest.received().length;
  const first = await attempt({ port: portOf(open), optimistic: 'auto' }, dest.port, 'one\r\n\r\n');
  await first.result;
  await appData(first.h, 19);
  expect(caps.get(serverKey('127.0.0.1', portOf(open)))).toBe('oc');
  dialer?.close();
  const second = await attempt({ port: portOf(open), optimistic: 'auto' }, dest.port, 'two\r\n\r\n');
  await second.result;
  await appData(second.h, 19);
  expect(dest.received().subarray(before).toString()).toBe('one\r\n\r\ntwo\r\n\r\n');
});

test('plain mode (optimistic = off) still works against our server', async () => {
  const { h, result } = await attempt({ port: portOf(open), optimistic: 'off' }, dest.port, 'plain\r\n');
  await result;
  expect((await appData(h, 19)).toString()).toBe('HTTP/1.0 200 OK\r\n\r\n');
});
