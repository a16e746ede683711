/**
 * Optimistic connect against a third-party plain SOCKS5 server (the socksv5 npm package, an
 * independent implementation). OC must either work as pipelining or fall back cleanly to
 * redsocks' sequential exchange; either way every stream ends up correct and the verdict is
 * cached so later connections go straight to the mode that works.
 */
import * as net from 'node:net';
import { ServerCapabilities, Upstreams, serverKey, type RedsocksSection, type UpstreamProtocol } from 'redsocks-ts';
import {
  appData,
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

// eslint-disable-next-line @typescript-eslint/no-require-imports
const socksv5 = require('socksv5') as {
  createServer(cb: (info: unknown, accept: () => void, deny: () => void) => void): net.Server & {
    useAuth(a: unknown): void;
  };
  auth: { None(): unknown };
};

let srv: net.Server;
let port: number;
let dest: Destination;

beforeAll(async () => {
  dest = await recordingDestination({ reply: 'HTTP/1.0 200 OK\r\n\r\n' });
  const s = socksv5.createServer((_info, accept) => accept());
  s.useAuth(socksv5.auth.None());
  srv = s;
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  port = (srv.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((r) => srv.close(() => r()));
  await dest.close();
});

const hs: Harness[] = [];
afterEach(() => {
  for (const h of hs.splice(0)) h.close();
});

async function stream(over: Partial<RedsocksSection>, early: string): Promise<Harness> {
  const inst = testSection({ port, optimisticGatherMs: 2000, ...over });
  const h = await harness(inst, { address: '127.0.0.1', port: dest.port });
  hs.push(h);
  h.app.write(early);
  await h.run(socks5);
  expect((await appData(h, 19)).toString()).toBe('HTTP/1.0 200 OK\r\n\r\n');
  return h;
}

test('optimistic = auto: the probe ends in a verdict and the stream is intact', async () => {
  freshState();
  const before = dest.received().length;
  await stream({ optimistic: 'auto' }, 'GET /a HTTP/1.0\r\n\r\n');
  const verdict = caps.get(serverKey('127.0.0.1', port));
  expect(['pipeline', 'sequential']).toContain(verdict);
  await stream({ optimistic: 'auto' }, 'GET /b HTTP/1.0\r\n\r\n');
  expect(caps.get(serverKey('127.0.0.1', port))).toBe(verdict);
  expect(dest.received().subarray(before).toString()).toBe('GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n');
});

test('optimistic = on: works as pipelining, or fails once cleanly and then runs sequentially', async () => {
  freshState();
  const before = dest.received().length;
  const inst = testSection({ port, optimistic: 'on', optimisticGatherMs: 2000 });
  const h = await harness(inst, { address: '127.0.0.1', port: dest.port });
  hs.push(h);
  h.app.write('GET /c HTTP/1.0\r\n\r\n');
  let firstOk = true;
  try {
    await h.run(socks5);
    expect((await appData(h, 19)).toString()).toBe('HTTP/1.0 200 OK\r\n\r\n');
  } catch (e) {
    firstOk = false;
    expect(e).toMatchObject({ resetClient: true });
  }
  const verdict = caps.get(serverKey('127.0.0.1', port));
  expect(verdict).toBe(firstOk ? 'pipeline' : 'sequential');
  await stream({ optimistic: 'on' }, 'GET /d HTTP/1.0\r\n\r\n');
  const got = dest.received().subarray(before).toString();
  expect(got.endsWith('GET /d HTTP/1.0\r\n\r\n')).toBe(true);
  // the request of a failed attempt may have reached the destination at most once, never twice
  expect(got.split('GET /c').length - 1).toBeLessThanOrEqual(1);
});
