/**
 * The warm pool on loopback with real sockets: pre-established connections carry exactly one
 * SOCKS stream each, are refilled in the background, expire, and are replaced when the peer
 * closes them. They send nothing while idle, under optimistic connect too (a greeting sent early
 * stalls the server's MPTCP receive-buffer tuning for as long as the connection then idles:
 * docs/optimistic-connect.md, "Warm pool"). Every upstream socket has TCP_NODELAY set.
 */
import { createDialer, type Dialer } from '../../src/dial';
import { fdOf, loadNative } from 'mptcp-native';
import type { RedsocksSection } from '../../src/config/types';
import { socks5Upstream } from '../../src/upstream/socks5';
import { ServerCapabilities, serverKey } from '../../src/upstream/server-capabilities';
import { AUTO_CAP, AUTO_FLOOR, learnedIdleTimeout } from '../../src/dial/warm-pool';
import { waitFor } from '@mptcp-proxy/lab';
import { OK_REPLY, ScriptedServer, appData, connectBytes, harness, hex, testSection, type Harness, type PeerConn } from '../helpers/upstream';

const DEST = { address: '192.0.2.3', port: 80 };
const REQ = connectBytes(DEST.address, DEST.port);
const OC_GREETING = [5, 2, 0xa5, 0];

let server: ScriptedServer;
let dialer: Dialer | undefined;
let socks5 = socks5Upstream();
const hs: Harness[] = [];

/** A plain SOCKS5 server: one handshake per connection, then echo. */
async function socksEcho(c: PeerConn): Promise<void> {
  await c.bytes(3);
  await c.write([5, 0]);
  await c.bytes(13);
  await c.write(OK_REPLY);
  c.echoFrom(13);
}

/** Like our socks-server: holds the OC method choice until the CONNECT reply, then echoes. */
async function ocEcho(c: PeerConn): Promise<void> {
  await c.bytes(OC_GREETING.length + REQ.length + 1);
  await c.write([5, 0xa5, ...OK_REPLY]);
  c.echoFrom(OC_GREETING.length + REQ.length);
}

beforeEach(async () => {
  server = await ScriptedServer.start(socksEcho);
});

afterEach(async () => {
  for (const h of hs.splice(0)) h.close();
  dialer?.close();
  dialer = undefined;
  await server.close();
  socks5 = socks5Upstream();
});

/** One stream through `d`; `pooled` is the default the protocol's own dial options override (a retry asks for a fresh one). */
async function stream(d: Dialer, payload: string, pooled = true, over: Partial<RedsocksSection> = {}): Promise<Harness> {
  const inst = testSection({ port: server.port, ...over });
  const h = await harness(inst, DEST, (o) => d.dial({ pooled, ...o }));
  hs.push(h);
  h.app.write(payload);
  await h.run(socks5);
  expect((await appData(h, payload.length)).toString()).toBe(payload);
  return h;
}

test('pool_size = 2: pre-established connections, each used for one stream, refilled', async () => {
  dialer = createDialer(testSection({ port: server.port, poolSize: 2, poolIdleTimeout: 60 }));
  await dialer.poolReady();
  let s = dialer.poolStats();
  expect(s).toMatchObject({ size: 2, idle: 2, opened: 2, hits: 0, misses: 0, refills: 0 });
  await waitFor(() => server.conns.length === 2, 5000, 'two pool connections at the server');
  expect(server.conns.every((c) => c.received.length === 0)).toBe(true);

  const h1 = await stream(dialer, 'first');
  // the stream rode one of the two pre-established connections
  const carrier = server.conns.findIndex((c) => c.received.length > 0);
  expect(carrier === 0 || carrier === 1).toBe(true);
  await waitFor(() => dialer!.poolStats().refills === 1 && dialer!.poolStats().idle === 2, 5000, 'refill');
  s = dialer.poolStats();
  expect(s).toMatchObject({ hits: 1, misses: 0, refills: 1, opened: 3 });
  // the server's accept is its own event: it may come a loop turn after the connect completed
  await waitFor(() => server.conns.length === 3, 5000, 'the refill at the server');

  // the used connection is never handed out again: closing the stream ends it at the server
  h1.close();
  await server.conns[carrier].eof();
  expect(server.conns[carrier].received.toString('hex')).toBe(
    Buffer.concat([Buffer.from([5, 1, 0, 5, 1, 0, 1, 192, 0, 2, 3, 0, 80]), Buffer.from('first')]).toString('hex'),
  );

  await stream(dialer, 'second');
  await stream(dialer, 'third');
  await waitFor(() => dialer!.poolStats().refills === 3, 5000, 'three refills');
  // each carrier connection holds exactly one handshake followed by its stream's bytes
  const carried = server.conns.filter((c) => c.received.length > 0).map((c) => c.received);
  expect(carried.map((b) => b.subarray(13).toString()).sort()).toEqual(['first', 'second', 'third']);
  for (const b of carried) expect(b.subarray(0, 13).toString('hex')).toBe('05010005010001c000020300' + '50');
  expect(dialer.poolStats().hits).toBe(3);
});

test('the replacement opens after the stream had its turn, not inside dial()', async () => {
  dialer = createDialer(testSection({ port: server.port, poolSize: 1, poolIdleTimeout: 60 }));
  await dialer.poolReady();
  const { socket: sock } = await dialer.dial();
  // deferred by REFILL_DELAY_MS: the stream's handshake leaves before a new connect is made
  // (`opened` counts connects made; the server's count could lag its accept by a loop turn)
  expect(dialer.poolStats()).toMatchObject({ hits: 1, idle: 0, pending: 0, opened: 1 });
  sock.write(Buffer.from([5, 1, 0, 5, 1, 0, 1, 192, 0, 2, 3, 0, 80]));
  await waitFor(() => dialer!.poolStats().idle === 1, 5000, 'refill');
  expect(dialer.poolStats()).toMatchObject({ hits: 1, refills: 1, opened: 2 });
  await waitFor(() => server.conns.length === 2, 5000, 'the refill at the server');
  await server.conns[0].bytes(13);
  expect(server.conns[0].received.length).toBe(13);
  expect(server.conns[1].received.length).toBe(0);
  sock.destroy();
});

test('pooled: false bypasses the pool; an empty pool counts a miss', async () => {
  dialer = createDialer(testSection({ port: server.port, poolSize: 1, poolIdleTimeout: 60 }));
  await dialer.poolReady();
  await stream(dialer, 'a', false);
  expect(dialer.poolStats()).toMatchObject({ hits: 0, misses: 0, idle: 1 });
  await stream(dialer, 'b');
  await stream(dialer, 'c'); // may find the refill still opening
  const s = dialer.poolStats();
  expect(s.hits + s.misses).toBe(2);
  expect(s.hits).toBeGreaterThanOrEqual(1);
});

test('idle connections expire after pool_idle_timeout and are replaced', async () => {
  dialer = createDialer(testSection({ port: server.port, poolSize: 1, poolIdleTimeout: 1 }));
  await dialer.poolReady();
  await waitFor(() => dialer!.poolStats().expired >= 1, 5000, 'expiry');
  await server.conns[0].eof();
  await waitFor(() => dialer!.poolStats().idle === 1 && server.conns.length >= 2, 5000, 'replacement');
  expect(server.conns[0].received.length).toBe(0);
});

test('a pooled connection the server closes is dropped and replaced', async () => {
  dialer = createDialer(testSection({ port: server.port, poolSize: 1, poolIdleTimeout: 60 }));
  await dialer.poolReady();
  await waitFor(() => server.conns.length === 1, 5000, 'pool connection');
  server.conns[0].socket.end();
  await waitFor(() => dialer!.poolStats().dropped === 1, 5000, 'drop');
  await waitFor(() => dialer!.poolStats().idle === 1, 5000, 'replacement');
  await stream(dialer, 'still works');
  expect(dialer.poolStats().hits).toBe(1);
});

test('a refused proxy: pool backs off, dial reports the connect error', async () => {
  const port = server.port;
  await server.close();
  server = await ScriptedServer.start(socksEcho); // keep afterEach happy; the pool targets the dead port
  dialer = createDialer(testSection({ port, poolSize: 1, poolIdleTimeout: 60 }));
  await waitFor(() => dialer!.poolStats().failures >= 1, 5000, 'a failed open');
  await expect(dialer.dial()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
});

test('optimistic = on: pool connections stay silent while idle; a stream sends greeting + CONNECT + data in one small first segment', async () => {
  await server.close();
  server = await ScriptedServer.start(ocEcho);
  const oc: Partial<RedsocksSection> = { optimistic: 'on', optimisticGatherMs: 2000 };
  dialer = createDialer(testSection({ port: server.port, ...oc, poolSize: 2, poolIdleTimeout: 60 }));
  await dialer.poolReady();
  await waitFor(() => server.conns.length === 2, 5000, 'two pool connections at the server');
  // a round trip on loopback is far below this: anything sent at open would have arrived
  await new Promise((r) => setTimeout(r, 200));
  for (const c of server.conns) expect(c.received.length).toBe(0);

  const h = await stream(dialer, 'hello', true, oc);
  expect(dialer.poolStats()).toMatchObject({ hits: 1, misses: 0 });
  const carrier = server.conns.findIndex((c) => c.received.length > 0);
  expect(carrier === 0 || carrier === 1).toBe(true);
  // one greeting, one CONNECT, the stream's bytes, all in the stream's first write (one subflow,
  // under AFTER_IDLE_FIRST bytes: src/dial/after-idle.ts)
  const all = [...OC_GREETING, ...REQ, ...Buffer.from('hello')];
  expect(hex(server.conns[carrier].received)).toBe(hex(all));
  expect(hex(server.conns[carrier].chunks[0])).toBe(hex(all));
  expect(server.conns[1 - carrier].received.length).toBe(0);

  // the refill is silent too
  await waitFor(() => server.conns.length === 3 && dialer!.poolStats().idle === 2, 5000, 'a refill');
  await new Promise((r) => setTimeout(r, 200));
  expect(server.conns[2].received.length).toBe(0);
  h.close();
  await server.conns[carrier].eof();
  expect(server.conns.length).toBe(3);
});

test('every upstream socket has TCP_NODELAY (MPTCP and plain TCP, fresh and pooled)', async () => {
  const b = loadNative().binding!;
  const nodelay = (s: import('node:net').Socket): number => b.getsockoptInt(fdOf(s), b.constants.IPPROTO_TCP, b.constants.TCP_NODELAY);
  for (const mptcp of ['on', 'off'] as const) {
    const d = createDialer(testSection({ port: server.port, mptcp }));
    const { socket: s } = await d.dial();
    expect(nodelay(s)).toBe(1);
    s.destroy();
    d.close();
  }
  dialer = createDialer(testSection({ port: server.port, mptcp: 'on', poolSize: 1 }));
  await dialer.poolReady();
  const { socket: pooled } = await dialer.dial();
  expect(dialer.poolStats().hits).toBe(1);
  expect(nodelay(pooled)).toBe(1);
  pooled.destroy();
});

test('pool_size = auto: starts at the floor, grows to a burst of connections, stops at the cap', async () => {
  dialer = createDialer(testSection({ port: server.port, poolSize: 'auto', poolIdleTimeout: 60 }));
  await dialer.poolReady();
  expect(dialer.poolStats()).toMatchObject({ size: AUTO_FLOOR, idle: AUTO_FLOOR, auto: true });
  // the floor serves a browser's first wave (6 connections to one origin at once) from the pool
  expect(AUTO_FLOOR).toBe(6);
  const six = await Promise.all(Array.from({ length: 6 }, () => dialer!.dial()));
  expect(dialer.poolStats()).toMatchObject({ hits: 6, misses: 0 });
  // a second origin's wave within the burst window: the target follows the burst
  six.push(...(await Promise.all(Array.from({ length: 4 }, () => dialer!.dial()))));
  expect(dialer.poolStats().size).toBe(10);
  await waitFor(() => dialer!.poolStats().idle === 10, 5000, 'the pool grown to 10 idle connections');
  const many = await Promise.all(Array.from({ length: AUTO_CAP + 4 }, () => dialer!.dial()));
  expect(dialer.poolStats().size).toBe(AUTO_CAP);
  await waitFor(() => dialer!.poolStats().idle === AUTO_CAP, 10000, 'the pool at its cap');
  for (const d of [...six, ...many]) d.socket.destroy();
});

test('the idle timeout is learned from a server that closes unused pooled connections', async () => {
  expect(learnedIdleTimeout(30_000)).toBe(27_000);
  expect(learnedIdleTimeout(5000)).toBe(3000);
  await server.close();
  // like Dante's timeout.negotiate, scaled down: an unused connection is closed after 3 s
  server = await ScriptedServer.start(async (c) => {
    await new Promise((r) => setTimeout(r, 3000));
    c.socket.end();
  });
  dialer = createDialer(testSection({ port: server.port, poolSize: 1, poolIdleTimeout: 60 }));
  await dialer.poolReady();
  expect(dialer.poolStats().idleTimeoutMs).toBe(60_000);
  await waitFor(() => dialer!.poolStats().dropped === 1, 6000, 'the server closing the first pooled connection');
  expect(dialer.poolStats().idleTimeoutMs).toBeLessThan(3000);
  // from now on the pool retires its connections before the server closes them
  await waitFor(() => dialer!.poolStats().expired >= 1, 5000, 'a pooled connection retired by the pool');
  expect(dialer.poolStats().dropped).toBe(1);
});

test('a pooled connection the server closed while idle: the stream retries once on a fresh one, the verdict stays', async () => {
  await server.close();
  // connection 0 (the pooled one) is closed as the stream's first bytes arrive; later ones speak OC
  server = await ScriptedServer.start(async (c, i) => {
    if (i === 0) {
      await c.bytes(1);
      c.socket.destroy();
      return;
    }
    await ocEcho(c);
  });
  const caps = new ServerCapabilities();
  socks5 = socks5Upstream(caps);
  const oc: Partial<RedsocksSection> = { optimistic: 'on', optimisticGatherMs: 2000 };
  dialer = createDialer(testSection({ port: server.port, ...oc, poolSize: 1, poolIdleTimeout: 60 }));
  await dialer.poolReady();
  const h = await stream(dialer, 'hello', true, oc);
  expect(dialer.poolStats().hits).toBe(1);
  // the retry went to a fresh connection and carried the same bytes: greeting, CONNECT, 'hello'
  expect(h.dials).toEqual([{ fastOpen: false }, { fastOpen: false, pooled: false }]);
  const carrier = server.conns.find((c, i) => i > 0 && c.received.length > 0)!;
  expect(hex(carrier.received)).toBe(hex([...OC_GREETING, ...REQ, ...Buffer.from('hello')]));
  expect(h.logs.some((l) => /pooled connection to the server was closed while idle/.test(l))).toBe(true);
  // the dead pooled connection says nothing about the server: OC, not sequential
  expect(caps.get(serverKey('127.0.0.1', server.port))).toBe('oc');
});

/** A stream through a one-connection pool to `server`, cached as OC, gathering for 1 ms only. */
async function pooledOcStream() {
  const caps = new ServerCapabilities();
  caps.set(serverKey('127.0.0.1', server.port), 'oc', 60);
  socks5 = socks5Upstream(caps);
  const oc: Partial<RedsocksSection> = { optimistic: 'auto', optimisticGatherMs: 1 };
  dialer = createDialer(testSection({ port: server.port, ...oc, poolSize: 1, poolIdleTimeout: 60 }));
  await dialer.poolReady();
  const h = await harness(testSection({ port: server.port, ...oc }), DEST, (o) => dialer!.dial(o));
  hs.push(h);
  return { h, run: h.run(socks5) };
}

test('a pooled connection to an OC server: client bytes after the gather time go out before the method reply', async () => {
  await server.close();
  // the server answers only once the request behind the handshake has arrived: held bytes would never come
  server = await ScriptedServer.start(async (c) => {
    await c.bytes(OC_GREETING.length + REQ.length + 5);
    await c.write([5, 0xa5, ...OK_REPLY]);
    c.echoFrom(OC_GREETING.length + REQ.length);
  });
  const { h, run } = await pooledOcStream();
  await waitFor(() => server.conns[0]?.received.length === OC_GREETING.length + REQ.length, 5000, 'the handshake alone (nothing gathered)');
  h.app.write('hello');
  await run;
  expect((await appData(h, 5)).toString()).toBe('hello');
  expect(hex(server.conns[0].received)).toBe(hex([...OC_GREETING, ...REQ, ...Buffer.from('hello')]));
  expect(dialer!.poolStats().hits).toBe(1);
});

test('a pooled OC connection the server closed after late client bytes: the retry sends the first flight and those bytes', async () => {
  await server.close();
  server = await ScriptedServer.start(async (c, i) => {
    if (i === 0) {
      await c.bytes(OC_GREETING.length + REQ.length + 5);
      c.socket.destroy();
      return;
    }
    await ocEcho(c);
  });
  const { h, run } = await pooledOcStream();
  await waitFor(() => server.conns[0]?.received.length === OC_GREETING.length + REQ.length, 5000, 'the handshake alone');
  h.app.write('hel');
  await waitFor(() => server.conns[0].received.length === OC_GREETING.length + REQ.length + 3, 5000, 'the first late bytes');
  h.app.write('lo');
  await run;
  expect((await appData(h, 5)).toString()).toBe('hello');
  expect(h.dials).toEqual([{ fastOpen: false }, { fastOpen: false, pooled: false }]);
  // (the pool's refill is silent: the retry's fresh connection is the one that received)
  const carrier = server.conns.find((c, i) => i > 0 && c.received.length > 0)!;
  expect(hex(carrier.received)).toBe(hex([...OC_GREETING, ...REQ, ...Buffer.from('hello')]));
  expect(h.logs.some((l) => /pooled connection to the server was closed while idle/.test(l))).toBe(true);
});
