/**
 * Pre-greeted warm-pool connections and the upstream socket options, on loopback with real
 * sockets: a pool connection sends the OC greeting when it opens (so MPTCP joins its extra
 * subflows while idle), the stream that takes it sends only CONNECT + early data, each pooled
 * connection carries exactly one stream, and every upstream socket has TCP_NODELAY set.
 */
import { fdOf, loadNative } from 'mptcp-native';
import { createDialer, type Dialer } from '../../src/dial';
import { socks5Upstream } from '../../src/upstream/socks5';
import type { RedsocksSection } from '../../src/config/types';
import { waitFor } from '@mptcp-proxy/lab';
import { OK_REPLY, ScriptedServer, appData, connectBytes, harness, hex, testSection, type Harness, type PeerConn } from '../helpers/upstream';

const DEST = { address: '192.0.2.7', port: 80 };
const GREETING = [5, 2, 0xa5, 0];
const REQ = connectBytes(DEST.address, DEST.port);

let server: ScriptedServer;
let dialer: Dialer | undefined;
let socks5 = socks5Upstream();

/** The dialer an instance gets in the daemon: its protocol supplies the pool greeting. */
const sectionDialer = (inst: RedsocksSection): Dialer => createDialer(inst, undefined, { poolGreeting: () => socks5.poolGreeting!(inst) });
const hs: Harness[] = [];

afterEach(async () => {
  for (const h of hs.splice(0)) h.close();
  dialer?.close();
  dialer = undefined;
  await server.close();
  socks5 = socks5Upstream();
});

/** Like our socks-server: holds the OC method choice until the CONNECT reply, then echoes. */
async function ocServer(c: PeerConn): Promise<void> {
  await c.bytes(GREETING.length);
  await c.bytes(GREETING.length + REQ.length + 1);
  let echoed = GREETING.length + REQ.length;
  await c.write([5, 0xa5, ...OK_REPLY]);
  const pump = (): void => {
    if (c.received.length > echoed) {
      c.socket.write(c.received.subarray(echoed));
      echoed = c.received.length;
    }
  };
  c.socket.on('data', pump);
  pump();
}

async function stream(d: Dialer, port: number, payload: string): Promise<Harness> {
  const inst = testSection({ port, optimistic: 'on', optimisticGatherMs: 2000 });
  const h = await harness(inst, DEST, (o) => d.dial(o));
  hs.push(h);
  h.app.write(payload);
  await h.run(socks5);
  expect((await appData(h, payload.length)).toString()).toBe(payload);
  return h;
}

test('optimistic = on: pool connections are greeted at once; a stream sends only CONNECT + data on one', async () => {
  server = await ScriptedServer.start(ocServer);
  const inst = testSection({ port: server.port, optimistic: 'on', poolSize: 2, poolIdleTimeout: 60 });
  expect(hex(socks5.poolGreeting!(inst)!)).toBe(hex(GREETING));
  dialer = sectionDialer(inst);
  await dialer.poolReady();
  await waitFor(() => server.conns.length === 2 && server.conns.every((c) => c.received.length === 4), 5000, 'two greeted pool connections');
  // the greeting and nothing else while idle; the server has answered nothing
  for (const c of server.conns) expect(hex(c.received)).toBe(hex(GREETING));

  const h = await stream(dialer, server.port, 'hello');
  const carrier = server.conns.findIndex((c) => c.received.length > 4);
  expect(carrier === 0 || carrier === 1).toBe(true);
  // exactly one greeting, one CONNECT, the stream's bytes: one stream on this connection
  expect(hex(server.conns[carrier].received)).toBe(hex([...GREETING, ...REQ, ...Buffer.from('hello')]));
  // the part sent by the stream went out as one write (one segment on loopback)
  expect(hex(server.conns[carrier].chunks[1])).toBe(hex([...REQ, ...Buffer.from('hello')]));
  expect(dialer.poolStats()).toMatchObject({ hits: 1, misses: 0 });

  await waitFor(() => server.conns.length === 3 && server.conns[2].received.length === 4, 5000, 'a greeted refill');
  expect(hex(server.conns[2].received)).toBe(hex(GREETING));
  h.close();
  await server.conns[carrier].eof();
  expect(server.conns.length).toBe(3);
});

test('a server that answers the greeting at once (no held OC method) stops pre-greeting', async () => {
  // a plain RFC 1928 server answers the method selection at once
  server = await ScriptedServer.start(async (c) => {
    await c.bytes(4);
    await c.write([5, 0]);
  });
  dialer = sectionDialer(testSection({ port: server.port, optimistic: 'on', poolSize: 1, poolIdleTimeout: 60 }));
  // the answered connection is dropped by the pool; the replacement is not greeted
  await waitFor(() => dialer!.poolStats().dropped >= 1 && server.conns.length >= 2, 5000, 'the answered pool connection dropped and replaced');
  await dialer.poolReady();
  const last = server.conns[server.conns.length - 1];
  await new Promise((r) => setTimeout(r, 100));
  expect(last.received.length).toBe(0);
});

test('every upstream socket has TCP_NODELAY (MPTCP and plain TCP, fresh and pooled)', async () => {
  server = await ScriptedServer.start(async () => undefined);
  const b = loadNative().binding!;
  const nodelay = (s: import('node:net').Socket): number => b.getsockoptInt(fdOf(s), b.constants.IPPROTO_TCP, b.constants.TCP_NODELAY);
  for (const mptcp of ['on', 'off'] as const) {
    const d = sectionDialer(testSection({ port: server.port, mptcp }));
    const { socket: s } = await d.dial();
    expect(nodelay(s)).toBe(1);
    s.destroy();
    d.close();
  }
  dialer = sectionDialer(testSection({ port: server.port, mptcp: 'on', poolSize: 1 }));
  await dialer.poolReady();
  const { socket: pooled } = await dialer.dial();
  expect(dialer.poolStats().hits).toBe(1);
  expect(nodelay(pooled)).toBe(1);
  pooled.destroy();
});
