/**
 * The refill back-off (src/dial/refill.ts) on loopback with real sockets: a server that accepts
 * and then closes at once, or speaks first on a connection that must stay silent, or answers
 * the SOCKS CONNECT of a DNS tunnel and then closes it, is a failing server. The warm pool and
 * the DNS tunnel pool back off from it instead of reopening at once. Opens are counted at the
 * server over a fixed window from its first accept; the bound is the back-off schedule's
 * number of rounds in that window times the connections one round opens.
 */
import * as net from 'node:net';
import { createDialer, type Dialer } from '../../src/dial';
import { AUTO_FLOOR } from '../../src/dial/warm-pool';
import { MAX_BACKOFF_MS, MIN_BACKOFF_MS, MIN_LIFE_MS } from '../../src/dial/refill';
import { TunnelPool } from '../../src/dns/tunnel-pool';
import { DnsTunnel } from '../../src/dns/tunnel';
import { waitFor } from '@mptcp-proxy/lab';
import { OK_REPLY, testSection } from '../helpers/upstream';

/** Rounds a refill can start within `windowMs` of its first: at 0, 100, 300, 700, 1500, ... */
function roundsWithin(windowMs: number): number {
  let at = 0;
  let backoff = 0;
  let rounds = 0;
  while (at <= windowMs) {
    rounds++;
    backoff = Math.min(MAX_BACKOFF_MS, backoff ? backoff * 2 : MIN_BACKOFF_MS);
    at += backoff;
  }
  return rounds;
}

/** A loopback server running `onConn` on each accepted socket, recording when each came. */
async function countingServer(onConn: (s: net.Socket) => void): Promise<{ port: number; accepts: number[]; close(): Promise<void> }> {
  const accepts: number[] = [];
  const socks = new Set<net.Socket>();
  const server = net.createServer((s) => {
    accepts.push(Date.now());
    socks.add(s);
    s.on('close', () => socks.delete(s));
    s.on('error', () => undefined);
    onConn(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepts,
    close: () => {
      for (const s of socks) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** Opens within `windowMs` of the first, once an open after the window shows the window is over. */
async function opensInWindow(accepts: number[], windowMs: number): Promise<number> {
  await waitFor(() => accepts.length > 0 && accepts[accepts.length - 1] - accepts[0] > windowMs, windowMs + 10_000, `an open more than ${windowMs} ms after the first`);
  return accepts.filter((t) => t - accepts[0] <= windowMs).length;
}

const WINDOW_MS = 1600;

let dialer: Dialer | undefined;
let server: Awaited<ReturnType<typeof countingServer>> | undefined;

afterEach(async () => {
  dialer?.close();
  dialer = undefined;
  await server?.close();
  server = undefined;
});

test('the back-off schedule gives 5 rounds in 1.6 s', () => {
  expect(roundsWithin(WINDOW_MS)).toBe(5);
  expect(MIN_LIFE_MS).toBeGreaterThanOrEqual(WINDOW_MS / 2);
});

test.each([
  ['accepts, then closes at once', (s: net.Socket) => s.destroy()],
  ['accepts, then speaks first (a refusal on a connection that must stay silent)', (s: net.Socket) => s.end(Buffer.from([5, 0xff]))],
])('warm pool against a server that %s: the opens back off', async (_name, onConn) => {
  server = await countingServer(onConn);
  dialer = createDialer(testSection({ port: server.port, poolSize: 'auto', poolIdleTimeout: 60 }));
  const n = await opensInWindow(server.accepts, WINDOW_MS);
  // each round opens at most the target (the floor: nothing asked for a connection)
  expect(n).toBeLessThanOrEqual(roundsWithin(WINDOW_MS) * AUTO_FLOOR);
  expect(n).toBeGreaterThanOrEqual(AUTO_FLOOR);
  const s = dialer.poolStats();
  // every open but those of the round in flight failed
  expect(s.failures).toBeGreaterThanOrEqual(n - AUTO_FLOOR);
});

test('warm pool: connections the server keeps are not a failure, and a take refills', async () => {
  server = await countingServer(() => undefined);
  dialer = createDialer(testSection({ port: server.port, poolSize: 'auto', poolIdleTimeout: 60 }));
  await dialer.poolReady();
  expect(dialer.poolStats()).toMatchObject({ size: AUTO_FLOOR, idle: AUTO_FLOOR, failures: 0 });
  const { socket } = await dialer.dial();
  await waitFor(() => server!.accepts.length === AUTO_FLOOR + 1, 5000, 'the replacement');
  expect(dialer.poolStats().failures).toBe(0);
  socket.destroy();
});

test('DNS tunnel pool against a server that answers the CONNECT, then closes at once: the opens back off', async () => {
  const size = 2;
  server = await countingServer((s) => {
    // the greeting (3 bytes) and the CONNECT (10), then the method choice and the reply, then close
    let got = 0;
    s.on('data', (d) => {
      const before = got;
      got += d.length;
      if (before < 3 && got >= 3) s.write(Buffer.from([5, 0]));
      if (got >= 13) s.end(Buffer.from(OK_REPLY));
    });
  });
  dialer = createDialer(testSection({ port: server.port }));
  const d = dialer;
  const errors: string[] = [];
  const pool = new TunnelPool({
    size,
    open: () => DnsTunnel.open({ dial: () => d.dial(), resolver: { address: '192.0.2.53', port: 53 }, maxInflight: 4 }),
    log: { info: () => undefined, error: (m) => errors.push(m) },
  });
  pool.start();
  try {
    const n = await opensInWindow(server.accepts, WINDOW_MS);
    expect(n).toBeLessThanOrEqual(roundsWithin(WINDOW_MS) * size);
    expect(n).toBeGreaterThanOrEqual(size);
    expect(pool.stats().failures).toBeGreaterThan(0);
    expect(errors.some((e) => /unused/.test(e))).toBe(true);
  } finally {
    pool.close();
  }
});
