/**
 * SIGUSR1 dump and the dialer's log wiring on loopback: redsocks' client-list lines stay as
 * they are, the WAN path view and pool counters follow in their own block, and path state
 * changes reach the redsocks log.
 */
import * as net from 'node:net';
import { waitFor } from '@mptcp-proxy/lab';
import { startRedsocks, type RedsocksHandle } from '../../src/core/daemon';
import { dialerDumpLines } from '../../src/dial';
import { createRedsocksLog } from '../../src/log/redsocks-log';
import { config, section } from '../helpers/config';

let proxy: net.Server;
let proxyPort: number;
const accepted = new Set<net.Socket>();

beforeAll(async () => {
  proxy = net.createServer((s) => {
    accepted.add(s);
    s.on('error', () => undefined);
    s.on('close', () => accepted.delete(s));
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  proxyPort = (proxy.address() as net.AddressInfo).port;
});

afterAll(async () => {
  for (const s of accepted) s.destroy();
  await new Promise<void>((r) => proxy.close(() => r()));
});

async function withDaemon(lines: string[], over: Parameters<typeof section>[0], fn: (h: RedsocksHandle) => Promise<void>): Promise<void> {
  const log = createRedsocksLog([], { capture: (prio, m) => lines.push(`${prio} ${m}`) });
  const h = await startRedsocks(config([section({ port: proxyPort, ...over })]), { log });
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

test('without paths or pool the dump is exactly redsocks\' two lines', async () => {
  const lines: string[] = [];
  await withDaemon(lines, {}, async (h) => {
    lines.length = 0;
    h.dump();
    expect(lines).toEqual([`notice Dumping client list for socks5 at 127.0.0.1:${h.ports()[0]}:`, 'notice End of client list. 0 clients.']);
  });
});

test('paths and pool follow the client list in their own block; a dead path is logged at err', async () => {
  const lines: string[] = [];
  const paths = [
    { name: 'wan1', source: '127.0.0.1', backup: false },
    // not an address of this host: every connect from it fails with EADDRNOTAVAIL
    { name: 'wan2', source: '192.0.2.77', backup: true },
  ];
  await withDaemon(lines, { paths, pathProbeInterval: 200, pathProbeTimeout: 1000, poolSize: 2, poolIdleTimeout: 60 }, async (h) => {
    const dumped = async (): Promise<string[]> => {
      const before = lines.length;
      h.dump();
      return lines.slice(before);
    };
    const out = await waitFor<string[] | null>(
      async () => {
        const d = await dumped();
        return d.some((l) => /^notice path wan1 127\.0\.0\.1 up rtt=\d+ms/.test(l)) &&
          d.some((l) => /^notice path wan2 192\.0\.2\.77 down /.test(l)) &&
          d.some((l) => /^notice pool size=2 idle=2 /.test(l))
          ? d
          : null;
      },
      20000,
      'path and pool lines in the dump',
    ).then((d) => d ?? []);
    const port = h.ports()[0];
    expect(out[0]).toBe(`notice Dumping client list for socks5 at 127.0.0.1:${port}:`);
    expect(out[1]).toBe('notice End of client list. 0 clients.');
    expect(out[2]).toBe(`notice Dumping upstream paths for socks5 at 127.0.0.1:${port}:`);
    // the pool's 2 idle connections started on wan1 (wan2 is down)
    expect(out[3]).toMatch(/^notice path wan1 127\.0\.0\.1 up rtt=\d+ms since=\d+s pooled=2$/);
    expect(out[4]).toMatch(/^notice path wan2 192\.0\.2\.77 down rtt=\? since=\d+s pooled=0 backup error=".+"$/);
    expect(out[5]).toMatch(/^notice pool size=2 idle=2 pending=0 hits=0 misses=0 refills=0 expired=0 dropped=0 failures=0 idle_timeout=\d+s$/);
    expect(out[6]).toBe('notice End of upstream paths.');
    expect(out).toHaveLength(7);
    // the path-health event went through the redsocks log (log_info off: still shown)
    expect(lines.some((l) => /^err path wan2 \(192\.0\.2\.77\) is down: /.test(l))).toBe(true);
  });
});

test('dialerDumpLines formats a pool-less path view', () => {
  const now = 50_000;
  const lines = dialerDumpLines(
    {
      paths: () => [{ name: 'wan1', source: '10.1.1.1', device: 'eth1', mark: 7, backup: false, up: true, state: 'up', rttMs: 21.4, lastChange: 40_000 }],
      poolStats: () => ({ size: 0, idle: 0, pending: 0, hits: 0, misses: 0, refills: 0, opened: 0, expired: 0, dropped: 0, failures: 0, idleTimeoutMs: 0, auto: false }),
    },
    now,
  );
  expect(lines).toEqual(['path wan1 10.1.1.1 up rtt=21ms since=10s dev=eth1 mark=7']);
});

test('dialerDumpLines: what paths = auto found, and why each path is usable or not', () => {
  const lines = dialerDumpLines(
    {
      paths: () => [
        { name: 'c1', source: '10.1.1.1', device: 'c1', backup: false, up: true, state: 'up', rttMs: 20, lastChange: 40_000, why: 'endpoint 1 on c1: main default route via 10.1.1.2 dev c1' },
        { name: 'c2', source: '10.1.2.1', device: 'c2', backup: false, up: false, state: 'down', rttMs: null, lastChange: 45_000, lastError: 'link c2 is down', why: 'endpoint 2: link c2 is down' },
      ],
      poolStats: () => ({ size: 0, idle: 0, pending: 0, hits: 0, misses: 0, refills: 0, opened: 0, expired: 0, dropped: 0, failures: 0, idleTimeoutMs: 0, auto: false }),
      kernel: { none: () => undefined, withdrawnAddresses: () => ['10.1.2.1'] } as never,
    },
    50_000,
  );
  expect(lines).toEqual([
    'path c1 10.1.1.1 up rtt=20ms since=10s dev=c1 auto="endpoint 1 on c1: main default route via 10.1.1.2 dev c1"',
    'path c2 10.1.2.1 down rtt=? since=5s dev=c2 endpoint=withdrawn error="link c2 is down" auto="endpoint 2: link c2 is down"',
  ]);
  const none = dialerDumpLines(
    {
      paths: () => [],
      poolStats: () => ({ size: 0, idle: 0, pending: 0, hits: 0, misses: 0, refills: 0, opened: 0, expired: 0, dropped: 0, failures: 0, idleTimeoutMs: 0, auto: false }),
      kernel: { none: () => 'the proxy 127.0.0.1 is on this host', withdrawnAddresses: () => [] } as never,
    },
    50_000,
  );
  expect(none).toEqual(['paths auto: none (the proxy 127.0.0.1 is on this host)']);
});
