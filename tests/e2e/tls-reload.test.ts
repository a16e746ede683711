/**
 * TLS on the WAN leg beyond `redsocks {}` (docs/tls.md), with the real daemons in namespaces:
 * - `dns {}` and `redudp {}` with the TLS keys reach a socks-server that has only a TLS listener
 *   (dig through the DNS forwarder to unbound; UDP datagrams through UDP ASSOCIATE to an echo);
 * - their traffic shows in a scrape of redsocks-ts' metrics endpoint (docs/metrics.md);
 * - SIGHUP on both sides rotates the server certificate and the pinned fingerprint: new
 *   connections use the new ones, the warm pool's idle connections made with the old ones are
 *   retired; an unreadable new key file refuses the reload with file:line and the old
 *   configuration keeps serving.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseMetricsText, sumOf, type MetricSample } from '@mptcp-proxy/common';
import {
  dantedConf, digAsync, makeTestCerts, makeTopology, ORIGIN_IP, originScript, PROXY_IP, redirectRules, redsocksBase, spawnIn, startUnbound,
  stopProcess, tsEntry, waitFor, waitListening, writeFile, type Daemon, type Started, type TestCerts, type Triangle,
} from '@mptcp-proxy/lab';

let topo: Triangle;
let a: TestCerts;
let b: TestCerts;
let server: Daemon;
let rs: Daemon;
let unbound: Started | undefined;
const others: Daemon[] = [];
let dir: string;

const TLS_PORT = 1443;
const DNS_PORT = 5300;
const UDP_PORT = 5301;
const ECHO_PORT = 7008;
const RESOLVER_PORT = 5353;
const METRICS_PORT = 9101;

/** The server's certificate and key: the files SIGHUP re-reads. */
const serverFiles = (): { cert: string; key: string } => ({ cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') });
const install = (c: TestCerts): void => {
  fs.copyFileSync(c.serverCert, serverFiles().cert);
  fs.copyFileSync(c.serverKey, serverFiles().key);
};

function serverConf(key = serverFiles().key): string {
  // a TLS listener only: cleartext SOCKS has nowhere to go
  return dantedConf({ internal: undefined, port: 0, external: PROXY_IP, tls: { listen: [`${PROXY_IP} port = ${TLS_PORT}`], cert: serverFiles().cert, key } });
}

function rsConf(pin: string): string {
  const tls = `  tls = on;\n  tls_pin = "${pin}";\n`;
  return redsocksBase(path.join(dir, 'rs.log'), `  metrics_port = ${METRICS_PORT};\n`) +
    `redsocks {\n  local_ip = 0.0.0.0;\n  local_port = 12001;\n  ip = ${PROXY_IP};\n  port = ${TLS_PORT};\n  type = socks5;\n  pool_size = 2;\n${tls}}\n` +
    `dns {\n  local_ip = 127.0.0.1;\n  local_port = ${DNS_PORT};\n  ip = ${PROXY_IP};\n  port = ${TLS_PORT};\n  resolver_ip = ${ORIGIN_IP};\n  resolver_port = ${RESOLVER_PORT};\n  connections = 1;\n${tls}}\n` +
    `redudp {\n  local_ip = 127.0.0.1;\n  local_port = ${UDP_PORT};\n  ip = ${PROXY_IP};\n  port = ${TLS_PORT};\n  dest_ip = ${ORIGIN_IP};\n  dest_port = ${ECHO_PORT};\n  udp_timeout = 5;\n${tls}}\n`;
}

const rsLog = (): string => {
  const f = path.join(dir, 'rs.log');
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
};

/** Sends `n` datagrams of `size` bytes to redudp from the gateway, one after the other; returns the echoes that came back. */
function udpRoundTrips(n: number, size: number): number {
  const script = `
const s = require('node:dgram').createSocket('udp4');
let got = 0, sent = 0;
const next = () => { if (sent === ${n}) { console.log(got); process.exit(0); } sent++; s.send(Buffer.alloc(${size}, 'u'), ${UDP_PORT}, '127.0.0.1'); };
s.on('message', (m) => { if (m.length === ${size}) got++; next(); });
setTimeout(() => { console.log(got); process.exit(0); }, 8000);
next();`;
  return Number(topo.gw.exec(`node -e "${script.replace(/"/g, '\\"').replace(/\n/g, ' ')}"`).trim());
}

/** The SHA-256 pin of the certificate the TLS listener presents now, as the gateway sees it. */
const servedPin = (): string =>
  `sha256:${topo.gw.exec(`sh -c 'openssl s_client -connect ${PROXY_IP}:${TLS_PORT} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256'`)
    .trim().replace(/^.*=/, '').replace(/:/g, '').toLowerCase()}`;

/** Local ports of the gateway's established connections to the TLS listener. */
const upstreamPorts = (): string[] =>
  topo.gw.exec(`ss -Htn state established dst ${PROXY_IP} dport = :${TLS_PORT}`, { allowFail: true })
    .split('\n').map((l) => /\s\S+:(\d+)\s+\S+$/.exec(l.trim())?.[1]).filter((p): p is string => p !== undefined);

const curl = (p: string): string => topo.client.exec(`curl -sS --max-time 10 http://${ORIGIN_IP}:8001${p}`, { allowFail: true });

function scrape(): MetricSample[] {
  return parseMetricsText(topo.gw.exec(`curl -sS --max-time 5 http://127.0.0.1:${METRICS_PORT}/metrics`));
}

const value = sumOf;

beforeAll(async () => {
  topo = makeTopology('tlr');
  dir = topo.dir;
  a = makeTestCerts(path.join(dir, 'a'), PROXY_IP);
  b = makeTestCerts(path.join(dir, 'b'), PROXY_IP);
  install(a);
  others.push(spawnIn(topo.srv, ['node', '-e', originScript([8001], 7007)]));
  others.push(spawnIn(topo.srv, [...tsEntry('packages/lab/src/udp-echo.ts'), ORIGIN_IP, String(ECHO_PORT)]));
  unbound = await startUnbound(topo.srv, { address: ORIGIN_IP, port: RESOLVER_PORT, dir });
  server = spawnIn(topo.srv, [...tsEntry('packages/socks-server/src/cli.ts'), '-f', writeFile(dir, 'd.conf', serverConf())]);
  for (const p of [8001, TLS_PORT]) await waitListening(topo.srv, p, 20000);
  rs = spawnIn(topo.gw, [...tsEntry('packages/redsocks-ts/src/cli.ts'), '-c', writeFile(dir, 'rs.conf', rsConf(a.serverPin))]);
  await waitListening(topo.gw, 12001, 20000);
  await waitListening(topo.gw, DNS_PORT, 20000);
  redirectRules(topo.gw, dir, [[8001, 12001]]);
}, 90000);

afterAll(async () => {
  if (process.env.RTS_E2E_DUMP) process.stdout.write(`---- redsocks-ts\n${rsLog()}\n${rs?.output()}\n---- socks-server\n${server?.output()}\n`);
  await stopProcess(rs?.proc);
  await stopProcess(server?.proc);
  for (const d of others) await stopProcess(d.proc);
  await unbound?.stop();
  topo?.destroy();
});

test('dns {} and redudp {} with the TLS keys work against a TLS-only listener', async () => {
  const udp = await digAsync(topo.gw, '127.0.0.1', DNS_PORT, 'www.lab');
  expect(udp.status).toBe('NOERROR');
  expect(udp.answers).toEqual(['198.51.100.2']);
  const tcp = await digAsync(topo.gw, '127.0.0.1', DNS_PORT, 'v6.lab', { type: 'AAAA', tcp: true });
  expect(tcp.answers).toEqual(['2001:db8:9::2']);
  // the second one from the forwarder's cache
  expect((await digAsync(topo.gw, '127.0.0.1', DNS_PORT, 'www.lab')).answers).toEqual(['198.51.100.2']);
  expect(udpRoundTrips(5, 300)).toBe(5);
  expect(curl('/tcp')).toBe('hello /tcp');
  // nothing went in cleartext to the TLS listener
  expect(server.output()).not.toMatch(/sent cleartext/);
}, 30000);

test('the metrics endpoint counts the DNS queries and the UDP datagrams', async () => {
  let m = scrape();
  await waitFor(() => value((m = scrape()), 'redsocks_udp_datagrams_total', { direction: 'down' }) >= 5, 5000, 'the UDP series');
  const dns = { section: `127.0.0.1:${DNS_PORT}` };
  const udp = { section: `127.0.0.1:${UDP_PORT}` };
  expect(value(m, 'redsocks_dns_queries_total', { ...dns, transport: 'udp', outcome: 'answered' })).toBe(2);
  expect(value(m, 'redsocks_dns_queries_total', { ...dns, transport: 'tcp', outcome: 'answered' })).toBe(1);
  expect(value(m, 'redsocks_dns_cache_hits_total', dns)).toBe(1);
  expect(value(m, 'redsocks_dns_query_seconds_count', dns)).toBe(3);
  expect(value(m, 'redsocks_udp_datagrams_total', { ...udp, direction: 'up' })).toBe(5);
  expect(value(m, 'redsocks_udp_datagrams_total', { ...udp, direction: 'down' })).toBe(5);
  expect(value(m, 'redsocks_udp_bytes_total', { ...udp, direction: 'up' })).toBe(1500);
  expect(value(m, 'redsocks_udp_bytes_total', { ...udp, direction: 'down' })).toBe(1500);
  expect(value(m, 'redsocks_udp_flows_total', udp)).toBe(1);
  expect(value(m, 'redsocks_udp_flows_active', udp)).toBe(1);
  expect(value(m, 'redsocks_udp_associations_total', { ...udp, kind: 'first' })).toBe(1);
  // the flow times out (udp_timeout = 5): no longer active
  await waitFor(() => value(scrape(), 'redsocks_udp_flows_active', udp) === 0, 10000, 'the flow to close');
}, 30000);

test('SIGHUP on both sides rotates the certificate and the pin; the pool\'s old TLS connections are retired', async () => {
  await waitFor(() => upstreamPorts().length >= 2, 10000, 'the warm pool\'s connections');
  const before = upstreamPorts();
  // the server first: its new certificate serves new connections
  install(b);
  server.proc.kill('SIGHUP');
  await waitFor(() => servedPin() === b.serverPin, 10000, 'the new certificate on the listener');
  // then the gateway: the new pin, and nothing made with the old one stays in the pool
  writeFile(dir, 'rs.conf', rsConf(b.serverPin));
  rs.proc.kill('SIGHUP');
  await waitFor(() => /configuration reloaded/.test(rsLog()), 10000, 'the redsocks-ts reload');
  await waitFor(() => before.every((p) => !upstreamPorts().includes(p)), 10000, 'the old pooled connections to close');
  await waitFor(() => upstreamPorts().length >= 2, 10000, 'the pool refilled');
  expect(curl('/after')).toBe('hello /after');
  // dns {} and redudp {} changed with the keys: their new tunnels and associations check the new pin
  expect((await digAsync(topo.gw, '127.0.0.1', DNS_PORT, 'short.lab')).answers).toEqual(['198.51.100.3']);
  expect(udpRoundTrips(3, 100)).toBe(3);
  expect(rsLog()).not.toMatch(/ETLS_PIN|pinned/);
}, 60000);

test('an unreadable new key file refuses the reload with file:line on both sides; the old configuration keeps serving', async () => {
  const missing = path.join(dir, 'gone.key');
  const serverFile = writeFile(dir, 'd.conf', serverConf(missing));
  server.proc.kill('SIGHUP');
  await waitFor(() => /keeping the old configuration/.test(server.output()), 10000, 'the refused server reload');
  expect(server.output()).toContain(`${serverFile}: problem on line 5 near token "${missing}"`);
  expect(server.output()).toContain(`cannot read ${missing}`);
  const rsFile = writeFile(dir, 'rs.conf', rsConf(b.serverPin).replace('  tls = on;\n', `  tls = on;\n  tls_cert = "${b.clientCert}";\n  tls_key = "${missing}";\n`));
  rs.proc.kill('SIGHUP');
  await waitFor(() => /reload failed, keeping the running configuration/.test(rsLog()), 10000, 'the refused redsocks-ts reload');
  expect(rsLog()).toMatch(new RegExp(`reload failed, keeping the running configuration: ${rsFile.replace(/[.]/g, '\\.')}:\\d+:\\d+: .*tls_key: cannot read ${missing.replace(/[.]/g, '\\.')}`));
  expect(servedPin()).toBe(b.serverPin);
  expect(curl('/still')).toBe('hello /still');
  expect((await digAsync(topo.gw, '127.0.0.1', DNS_PORT, 'v6.lab', { type: 'AAAA' })).answers).toEqual(['2001:db8:9::2']);
}, 60000);
