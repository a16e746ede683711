/**
 * The metrics endpoints of both daemons (docs/metrics.md), scraped over loopback inside their
 * namespaces after real traffic: curl in a client namespace -> nftables REDIRECT -> redsocks-ts
 * (MPTCP, one configured WAN path) -> socks-server -> an origin.
 */
import {
  dantedConf, makeTopology, ORIGIN_IP, GW_WAN, originScript, PROXY_IP, redirectRules, redsocksBase, redsocksSection,
  spawnIn, stopProcess, tsEntry, waitFor, waitListening, writeFile, type Daemon, type Triangle,
} from '@mptcp-proxy/lab';
import { parseMetricsText, sumOf, type MetricSample } from '@mptcp-proxy/common';

let topo: Triangle;
const procs: Daemon[] = [];

beforeAll(async () => {
  topo = makeTopology('mx');
  const { srv, gw, dir } = topo;
  procs.push(spawnIn(srv, ['node', '-e', originScript([8001, 8002], 7007)]));
  const danted = dantedConf({
    internal: PROXY_IP, port: 1080, extra: ['extension.metrics: 127.0.0.1 port = 9102'],
    blocks: [{ to: `${ORIGIN_IP}/32`, port: 8002 }],
  });
  procs.push(spawnIn(srv, [...tsEntry('packages/socks-server/src/cli.ts'), '-f', writeFile(dir, 'd.conf', danted)]));
  await waitListening(srv, 1080, 20000);
  await waitListening(srv, 9102, 5000);
  const conf = redsocksBase(`${dir}/rs.log`, '  metrics_port = 9101;\n') +
    redsocksSection(12001, 1080, 'socks5', `  paths = "wan1 ${GW_WAN} dev g1";\n  pool_size = 2;\n`) +
    redsocksSection(12002, 1080, 'socks5');
  procs.push(spawnIn(gw, [...tsEntry('packages/redsocks-ts/src/cli.ts'), '-c', writeFile(dir, 'rs.conf', conf)]));
  await waitListening(gw, 12002, 20000);
  await waitListening(gw, 9101, 5000);
  redirectRules(gw, dir, [[8001, 12001], [8002, 12002]]);
}, 60000);

afterAll(async () => {
  for (const p of procs) await stopProcess(p.proc);
  topo?.destroy();
});

const scrape = (ns: 'gw' | 'srv', port: number): MetricSample[] =>
  parseMetricsText(topo[ns].exec(`curl -sS --max-time 5 http://127.0.0.1:${port}/metrics`));

test('redsocks-ts: connections, outcomes, bytes, handshake times, pool and the WAN path', async () => {
  const curl = (p: string): string => topo.client.exec(`curl -sS --max-time 10 http://${ORIGIN_IP}:8001${p}`);
  expect(curl('/a')).toBe('hello /a');
  expect(curl('/b')).toBe('hello /b');
  expect(curl('/bytes/200000').length).toBe(200000);
  const inst = { instance: '0.0.0.0:12001' };
  let m: MetricSample[] = [];
  await waitFor(() => {
    m = scrape('gw', 9101);
    return sumOf(m, 'redsocks_connections_closed_total', inst) >= 3;
  }, 10000, 'three closed connections in the metrics');
  expect(sumOf(m, 'redsocks_connections_total', inst)).toBe(3);
  expect(sumOf(m, 'redsocks_connections_active', inst)).toBe(0);
  expect(sumOf(m, 'redsocks_connections_closed_total', { ...inst, outcome: 'ok' })).toBe(3);
  expect(sumOf(m, 'redsocks_bytes_total', { ...inst, direction: 'down' })).toBeGreaterThan(200000);
  expect(sumOf(m, 'redsocks_bytes_total', { ...inst, direction: 'up' })).toBeGreaterThan(100);
  expect(sumOf(m, 'redsocks_handshake_seconds_count', inst)).toBe(3);
  // the pool was full before the first request: at least the first dial was a hit
  expect(sumOf(m, 'redsocks_pool_requests_total', { ...inst, result: 'hit' })).toBeGreaterThanOrEqual(1);
  expect(sumOf(m, 'redsocks_pool_connections', { ...inst, state: 'size' })).toBe(2);
  expect(sumOf(m, 'redsocks_path_up', { path: 'wan1', source: GW_WAN })).toBe(1);
  expect(sumOf(m, 'redsocks_path_connect_rtt_seconds', { path: 'wan1' })).toBeGreaterThan(0);
  // the path's device counters (everything through g1)
  expect(sumOf(m, 'redsocks_path_interface_bytes_total', { path: 'wan1', device: 'g1', direction: 'down' })).toBeGreaterThan(200000);
}, 30000);

test('redsocks-ts: a failed upstream is counted by outcome and code', async () => {
  // the socks-server blocks port 8002: the client gets a reset
  topo.client.exec(`curl -sS --max-time 10 http://${ORIGIN_IP}:8002/x`, { allowFail: true });
  let m: MetricSample[] = [];
  await waitFor(() => {
    m = scrape('gw', 9101);
    return sumOf(m, 'redsocks_connections_closed_total', { instance: '0.0.0.0:12002' }) >= 1;
  }, 10000, 'the failed connection in the metrics');
  const failed = m.filter((s) => s.name === 'redsocks_connections_closed_total' && s.labels.instance === '0.0.0.0:12002');
  expect(failed).toHaveLength(1);
  expect(failed[0].labels.outcome).toBe('upstream');
  expect(failed[0].labels.code).not.toBe('');
}, 30000);

test('socks-server: connections by outcome, bytes, negotiation times', async () => {
  let m: MetricSample[] = [];
  await waitFor(() => {
    m = scrape('srv', 9102);
    return sumOf(m, 'socks_server_connections_closed_total', { outcome: 'blocked' }) >= 1;
  }, 10000, 'the blocked request in the metrics');
  expect(sumOf(m, 'socks_server_connections_closed_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(3);
  expect(m.find((s) => s.name === 'socks_server_connections_closed_total' && s.labels.outcome === 'blocked')?.labels.code).toBe('REP_2');
  expect(sumOf(m, 'socks_server_bytes_total', { direction: 'out' })).toBeGreaterThan(200000);
  // the blocked request never passed the rules: three handshakes
  expect(sumOf(m, 'socks_server_handshake_seconds_count')).toBe(3);
  // the warm pool's idle connections are accepted sessions still negotiating
  expect(sumOf(m, 'socks_server_connections_active')).toBeGreaterThanOrEqual(0);
}, 30000);

test('both endpoints: loopback only, OpenMetrics text, 404 elsewhere', () => {
  expect(topo.gw.exec(`ss -Htln 'sport = :9101'`)).toMatch(/127\.0\.0\.1:9101/);
  expect(topo.srv.exec(`ss -Htln 'sport = :9102'`)).toMatch(/127\.0\.0\.1:9102/);
  const head = topo.gw.exec('curl -sS -i --max-time 5 http://127.0.0.1:9101/metrics');
  expect(head).toMatch(/content-type: application\/openmetrics-text; version=1\.0\.0/i);
  expect(head).toMatch(/# EOF\s*$/);
  expect(topo.srv.exec('curl -sS -o /dev/null -w %{http_code} --max-time 5 http://127.0.0.1:9102/other')).toBe('404');
  // not reachable from the LAN
  expect(topo.client.exec(`curl -sS -o /dev/null -w %{http_code} --max-time 2 http://${PROXY_IP}:9102/metrics`, { allowFail: true })).not.toBe('200');
});

test('redsocks-ts: a long transfer shows on the path while it runs (subflows, RTT, subflow bytes)', async () => {
  // a slow reader keeps the connection open across scrapes
  const proc = topo.client.spawn(['bash', '-c', `curl -sS --max-time 20 --limit-rate 2M http://${ORIGIN_IP}:8001/bytes/8000000 > /dev/null`]);
  try {
    let m: MetricSample[] = [];
    await waitFor(() => {
      m = scrape('gw', 9101);
      // the relay's byte counter and the subflow counters are read apart: wait for both
      return sumOf(m, 'redsocks_path_subflow_bytes_total', { path: 'wan1', direction: 'down' }) > 1_000_000
        && sumOf(m, 'redsocks_bytes_total', { instance: '0.0.0.0:12001', direction: 'down' }) > 1_000_000;
    }, 15000, 'subflow and relay bytes of the live transfer');
    expect(sumOf(m, 'redsocks_connections_active', { instance: '0.0.0.0:12001' })).toBe(1);
    expect(sumOf(m, 'redsocks_path_subflows', { path: 'wan1' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(m, 'redsocks_path_connections', { path: 'wan1' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(m, 'redsocks_path_subflow_rtt_seconds', { path: 'wan1' })).toBeGreaterThan(0);
    // bytes of a live connection are counted before it closes
    expect(sumOf(m, 'redsocks_bytes_total', { instance: '0.0.0.0:12001', direction: 'down' })).toBeGreaterThan(1_000_000);
  } finally {
    proc.kill('SIGKILL');
  }
}, 30000);
