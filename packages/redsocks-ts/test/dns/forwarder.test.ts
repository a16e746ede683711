/**
 * The dns {} forwarder on loopback, against real peers: dig as the client, our socks-server
 * as the SOCKS5 server, Debian's unbound as the resolver. UDP and TCP, the cache and its TTLs,
 * truncation and the TCP retry, pipelining over two tunnels, a tunnel dying under queries,
 * an unreachable resolver, a query that cannot be read.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import diagnosticsChannel from 'node:diagnostics_channel';
import { digAsync, startUnbound, tempDir, waitFor, type Started } from '@mptcp-proxy/lab';
import { parseDantedConfig, startServer, type SocksServer } from 'socks-server';
import { nullLog } from 'socks-server';
import { createRedsocksLog, parseRedsocksConfig, startRedsocks, type DnsQueryEvent, type RedsocksHandle, DnsForwarder } from 'redsocks-ts';
import { buildQuery, parseHeader } from '../../src/dns/message';

let unbound: Started;
let unboundPort: number;
let socks: SocksServer;
let socksPort: number;
let rs: RedsocksHandle;
let port: number;
const events: DnsQueryEvent[] = [];
const lines: string[] = [];
const onEvent = (m: unknown): void => void events.push(m as DnsQueryEvent);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function forwarder(): DnsForwarder {
  return rs.services().find((s) => s.kind === 'dns') as unknown as DnsForwarder;
}

function ask(query: Buffer, ms = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error('no answer'));
    }, ms);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(query, port, '127.0.0.1');
  });
}

beforeAll(async () => {
  const dir = tempDir('dnsfwd-');
  unboundPort = await freePort();
  unbound = await startUnbound(null, { address: '127.0.0.1', port: unboundPort, dir });
  const { config } = parseDantedConfig(
    'internal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nclientmethod: none\nsocksmethod: none\nclient pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }\nsocks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }\n',
    'd.conf',
  );
  for (const i of config.internal) i.port = 0;
  socks = await startServer(config, { log: nullLog, tickMs: 50 });
  socksPort = socks.addresses()[0]!.port;
  const text = `base { log_debug = on; log = stderr; redirector = iptables; }
dns { local_ip = 127.0.0.1; local_port = 0; ip = 127.0.0.1; port = ${socksPort}; resolver_ip = 127.0.0.1; resolver_port = ${unboundPort}; connections = 2; query_timeout = 1500; }
`;
  const log = createRedsocksLog([], { levels: { debug: true, info: true }, capture: (_p, m) => void lines.push(m) });
  rs = await startRedsocks(parseRedsocksConfig(text, 'rs.conf').config, { log });
  port = rs.servicePorts('dns')[0]!;
  await forwarder().pool.whenFull(5000);
  diagnosticsChannel.subscribe('redsocks-ts:dns', onEvent);
}, 30000);

afterAll(async () => {
  diagnosticsChannel.unsubscribe('redsocks-ts:dns', onEvent);
  await rs?.close();
  await socks?.close();
  await unbound?.stop();
});

test('UDP and TCP queries are answered through the tunnel; the second one from the cache, TTL aged', async () => {
  const r = await digAsync(null, '127.0.0.1', port, 'www.lab');
  expect(r.status).toBe('NOERROR');
  expect(r.answers).toEqual(['198.51.100.2']);
  const t = await digAsync(null, '127.0.0.1', port, 'v6.lab', { type: 'AAAA', tcp: true });
  expect(t.status).toBe('NOERROR');
  expect(t.answers).toEqual(['2001:db8:9::2']);
  const nx = await digAsync(null, '127.0.0.1', port, 'nope.lab');
  expect(nx.status).toBe('NXDOMAIN');
  await waitFor(() => events.length >= 3, 2000, 'query events');
  expect(events.slice(0, 3).map((e) => [e.transport, e.name, e.rcode, e.cached])).toEqual([
    ['udp', 'www.lab.', 0, false],
    ['tcp', 'v6.lab.', 0, false],
    ['udp', 'nope.lab.', 3, false],
  ]);
  await new Promise((res) => setTimeout(res, 1100));
  const again = await digAsync(null, '127.0.0.1', port, 'www.lab');
  expect(again.answers).toEqual(['198.51.100.2']);
  expect(again.output).toMatch(/www\.lab\.\s+299\s+IN\s+A/); // one second in the cache
  await waitFor(() => events.length >= 4, 2000, 'cached query event');
  expect(events[3]).toMatchObject({ name: 'www.lab.', cached: true });
});

test('a 1-second TTL: the answer leaves the cache after one second', async () => {
  events.length = 0;
  await digAsync(null, '127.0.0.1', port, 'short.lab');
  await digAsync(null, '127.0.0.1', port, 'short.lab');
  await new Promise((res) => setTimeout(res, 1100));
  await digAsync(null, '127.0.0.1', port, 'short.lab');
  await waitFor(() => events.length >= 3, 2000, 'events');
  expect(events.map((e) => e.cached)).toEqual([false, true, false]);
});

test('an NXDOMAIN with the zone\'s SOA is cached for the SOA\'s MINIMUM (RFC 2308), the SOA handed out aged', async () => {
  events.length = 0;
  const first = await digAsync(null, '127.0.0.1', port, 'nothing-here.lab');
  expect(first.status).toBe('NXDOMAIN');
  expect(first.output).toMatch(/^lab\.\s+60\s+IN\s+SOA\s/m);
  await new Promise((res) => setTimeout(res, 1100));
  const again = await digAsync(null, '127.0.0.1', port, 'nothing-here.lab');
  expect(again.status).toBe('NXDOMAIN');
  expect(again.output).toMatch(/^lab\.\s+59\s+IN\s+SOA\s/m);
  await waitFor(() => events.length >= 2, 2000, 'events');
  expect(events.map((e) => [e.rcode, e.cached])).toEqual([[3, false], [3, true]]);
});

test('an answer over the client\'s UDP size is truncated; dig retries over TCP and gets it whole', async () => {
  const noEdns = await digAsync(null, '127.0.0.1', port, 'big.lab', { type: 'TXT', edns: false });
  expect(noEdns.retriedTcp).toBe(true);
  expect(noEdns.answers).toHaveLength(12);
  const kept = await digAsync(null, '127.0.0.1', port, 'big.lab', { type: 'TXT', ignoreTc: true });
  expect(kept.flags).toContain('tc');
  expect(kept.answers).toEqual([]);
  // EDNS 4096 asks for more than udp_size (1232): still truncated
  const big = await digAsync(null, '127.0.0.1', port, 'big.lab', { type: 'TXT', edns: 4096, ignoreTc: true });
  expect(big.flags).toContain('tc');
  expect((await digAsync(null, '127.0.0.1', port, 'big.lab', { type: 'TXT', tcp: true })).answers).toHaveLength(12);
});

test('100 concurrent queries are pipelined over the two tunnels', async () => {
  const f = forwarder();
  f.cache.clear();
  const before = f.pool.stats();
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => ask(buildQuery(i, `q${i}.lab`, 1))));
  expect(answers.map((a) => parseHeader(a).id)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  expect(answers.every((a) => parseHeader(a).rcode === 3)).toBe(true);
  const after = f.pool.stats();
  expect(after.opened).toBe(before.opened); // no new tunnel: both carried many queries
  expect(after.open).toBe(2);
});

test('tunnels that die under their queries: the queries move to new tunnels and are answered', async () => {
  const f = forwarder();
  const before = f.pool.stats();
  // the queries are written to the tunnels in this tick; the server then cuts every session
  const answers = Promise.all(Array.from({ length: 20 }, (_, i) => f.pool.query(buildQuery(1000 + i, `m${i}.lab`, 1), Date.now() + 5000)));
  for (const s of [...socks.sessions]) s.close('test: cut the tunnel');
  const r = await answers;
  expect(r.map((a) => parseHeader(a).id)).toEqual(Array.from({ length: 20 }, (_, i) => 1000 + i));
  const after = f.pool.stats();
  expect(after.moved).toBeGreaterThan(before.moved);
  expect(after.opened).toBeGreaterThanOrEqual(before.opened + 2);
  await f.pool.whenFull(5000);
});

test('a query that cannot be read gets FORMERR; a response is ignored', async () => {
  const bad = Buffer.from('abcd01000001000000000000c00c', 'hex'); // a name pointing at itself
  const a = await ask(bad);
  expect(parseHeader(a)).toMatchObject({ id: 0xabcd, qr: true, rcode: 1 });
  const response = Buffer.from(buildQuery(7, 'www.lab', 1));
  response[2]! |= 0x80;
  await expect(ask(response, 300)).rejects.toThrow('no answer');
});

test('a resolver the SOCKS server cannot reach: SERVFAIL once query_timeout has passed', async () => {
  const dead = await freePort();
  const text = `base { redirector = iptables; }
dns { local_ip = 127.0.0.1; local_port = 0; ip = 127.0.0.1; port = ${socksPort}; resolver_ip = 127.0.0.1; resolver_port = ${dead}; connections = 1; query_timeout = 800; }
`;
  const other = await startRedsocks(parseRedsocksConfig(text, 'rs2.conf').config, { log: createRedsocksLog([], { capture: (_p, m) => void lines.push(m) }) });
  try {
    const t0 = Date.now();
    const r = await digAsync(null, '127.0.0.1', other.servicePorts('dns')[0]!, 'www.lab', { time: 3 });
    expect(r.status).toBe('SERVFAIL');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
  } finally {
    await other.close();
  }
});
