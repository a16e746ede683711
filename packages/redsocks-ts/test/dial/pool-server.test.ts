/**
 * Our socks-server and a full warm pool on loopback (real sockets): 16 idle pooled
 * connections (AUTO_CAP) plus a browser's burst of 16 optimistic streams to one origin are all
 * served; the server's per-client limits (OC connects pending per client and destination,
 * session.max/throttle only where a rule sets them) do not treat the idle pool as abuse, and no
 * idle connection is closed by the server (packages/redsocks-ts/docs/fast-by-default.md §3).
 */
import { parseDantedConfig, startServer, nullLog, type SocksServer } from 'socks-server';
import { createDialer, type Dialer } from '../../src/dial';
import { AUTO_CAP } from '../../src/dial/warm-pool';
import { socks5Upstream } from '../../src/upstream/socks5';
import { waitFor } from '@mptcp-proxy/lab';
import { appData, harness, recordingDestination, testSection, type Destination, type Harness } from '../helpers/upstream';

let socks: SocksServer;
let dest: Destination;
let dialer: Dialer | undefined;
const hs: Harness[] = [];

beforeAll(async () => {
  const { config } = parseDantedConfig(
    'internal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nclientmethod: none\nsocksmethod: none\nextension.optimistic: yes\n' +
      'client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }\nsocks pass { from: 0.0.0.0/0 to: 0.0.0.0/0\n optimistic: yes\n}\n',
    'd.conf',
  );
  for (const i of config.internal) i.port = 0;
  socks = await startServer(config, { log: nullLog, tickMs: 50 });
  dest = await recordingDestination({ echo: true });
});

afterAll(async () => {
  for (const h of hs) h.close();
  dialer?.close();
  await socks.close();
  await dest.close();
});

test(`${AUTO_CAP} idle pooled connections plus a burst of ${AUTO_CAP} optimistic streams to one origin: all served`, async () => {
  const port = socks.addresses()[0]!.port;
  const section = testSection({ port, poolSize: AUTO_CAP, poolIdleTimeout: 60, optimistic: 'on' });
  dialer = createDialer(section);
  const d = dialer;
  await d.poolReady();
  const socks5 = socks5Upstream();
  const echoed = await Promise.all(
    Array.from({ length: AUTO_CAP }, async (_, i) => {
      const h = await harness(section, { address: '127.0.0.1', port: dest.port }, (o) => d.dial(o));
      hs.push(h);
      const payload = `GET /${i} HTTP/1.1\r\n\r\n`;
      h.app.write(payload);
      await h.run(socks5);
      return (await appData(h, payload.length)).toString() === payload;
    }),
  );
  expect(echoed.every(Boolean)).toBe(true);
  expect(dest.connections).toBe(AUTO_CAP);
  // the pool refills to its size while the 16 streams stay open: 32 connections from one client
  await waitFor(() => d.poolStats().idle === AUTO_CAP, 10_000, 'the pool refilled');
  expect(d.poolStats()).toMatchObject({ hits: AUTO_CAP, misses: 0, dropped: 0, failures: 0 });
});
