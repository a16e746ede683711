/**
 * Optimistic connect against a real Dante 1.4.2 (Debian's danted, temp config on loopback):
 * a plain RFC 1928 server. It picks 00 for the pipelined {A5,00} greeting and parses greeting +
 * CONNECT + early data from one buffer, so OC works as pipelining (docs/optimistic-connect.md §1). Failures
 * still reset the LAN client and leave nothing at the destination.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canConnect, dantedConf, killOnExit, removeTempDir, stopProcess, tempDir, waitFor } from '@mptcp-proxy/lab';
import { ServerCapabilities, Upstreams, serverKey, type RedsocksSection, type UpstreamProtocol } from 'redsocks-ts';
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
let danted: ChildProcess;
let port: number;
let dest: Destination;
let blocked: Destination;
let stderr = '';

beforeAll(async () => {
  tmp = tempDir('f2-dante-');
  dest = await recordingDestination({ reply: 'HTTP/1.0 200 OK\r\n\r\n' });
  blocked = await recordingDestination({ reply: 'never' });
  port = await closedPort();
  const conf = path.join(tmp, 'danted.conf');
  fs.writeFileSync(
    conf,
    dantedConf({
      logoutput: path.join(tmp, 'danted.log'),
      internal: '127.0.0.1',
      port,
      users: true,
      clientFrom: '127.0.0.0/8',
      blocks: [{ to: '127.0.0.1/32', port: blocked.port, log: 'error' }],
    }),
  );
  danted = killOnExit(spawn('danted', ['-f', conf, '-p', path.join(tmp, 'danted.pid'), '-N', '1'], { stdio: ['ignore', 'ignore', 'pipe'] }));
  danted.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor(() => canConnect(port), 15000, `danted listening on ${port} (${stderr})`);
});

afterAll(async () => {
  await stopProcess(danted);
  await dest?.close();
  await blocked?.close();
  if (tmp) removeTempDir(tmp);
});

const hs: Harness[] = [];
afterEach(() => {
  for (const h of hs.splice(0)) h.close();
});

async function attempt(over: Partial<RedsocksSection>, destPort: number, early: string): Promise<{ h: Harness; result: Promise<unknown> }> {
  const inst = testSection({ port, optimistic: 'on', optimisticGatherMs: 2000, ...over });
  const h = await harness(inst, { address: '127.0.0.1', port: destPort });
  hs.push(h);
  h.app.write(early);
  return { h, result: h.run(socks5) };
}

test('optimistic = on: Dante picks 00, takes the pipelined CONNECT + early data, stream works', async () => {
  freshState();
  const before = dest.received().length;
  const { h, result } = await attempt({}, dest.port, 'GET /dante HTTP/1.0\r\n\r\n');
  await result;
  expect((await appData(h, 19)).toString()).toBe('HTTP/1.0 200 OK\r\n\r\n');
  expect(dest.received().subarray(before).toString()).toBe('GET /dante HTTP/1.0\r\n\r\n');
  expect(caps.get(serverKey('127.0.0.1', port))).toBe('pipeline');
});

test('optimistic = auto: the probe classifies Dante as "pipeline"; later streams still work', async () => {
  freshState();
  const before = dest.received().length;
  const a = await attempt({ optimistic: 'auto' }, dest.port, 'first\r\n\r\n');
  await a.result;
  await appData(a.h, 19);
  expect(caps.get(serverKey('127.0.0.1', port))).toBe('pipeline');
  const b = await attempt({ optimistic: 'auto' }, dest.port, 'second\r\n\r\n');
  await b.result;
  await appData(b.h, 19);
  expect(dest.received().subarray(before).toString()).toBe('first\r\n\r\nsecond\r\n\r\n');
});

test('rule block under OC: REP 2, client reset, no byte at the blocked destination', async () => {
  const { h, result } = await attempt({}, blocked.port, 'POST /x HTTP/1.0\r\n\r\n');
  await expect(result).rejects.toMatchObject({
    resetClient: true,
    message: 'Socks5 server status: connection not allowed by ruleset (2)',
  });
  expect(h.appReceived().length).toBe(0);
  expect(blocked.connections).toBe(0);
  expect(blocked.received().length).toBe(0);
});

test('connect refused under OC: non-zero REP, client reset', async () => {
  const { h, result } = await attempt({}, await closedPort(), 'hello');
  await expect(result).rejects.toMatchObject({ resetClient: true, code: 'ESOCKS5_STATUS' });
  expect(h.appReceived().length).toBe(0);
});

test('plain mode against Dante: the redsocks exchange', async () => {
  const { h, result } = await attempt({ optimistic: 'off' }, dest.port, 'plain\r\n');
  await result;
  expect((await appData(h, 19)).toString()).toBe('HTTP/1.0 200 OK\r\n\r\n');
});
