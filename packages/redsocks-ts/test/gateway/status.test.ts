/** The status view's pure half (gateway/status.ts): metrics text in, lines out. */
import { parseMetricsText } from '@mptcp-proxy/common';
import { pathRates, renderStatus, renderStatusLine, statusFromMetrics } from '../../src/gateway/status';

const gw = (isp1Down: number, isp1Up: boolean, retrans: number): string => `
redsocks_path_up{path="isp1",source="10.0.1.2"} ${isp1Up ? 1 : 0}
redsocks_path_up{path="isp2",source="10.0.2.2"} -1
redsocks_path_connect_rtt_seconds{path="isp1"} 0.021
redsocks_path_subflow_rtt_seconds{path="isp1"} 0.025
redsocks_path_subflows{path="isp1"} 3
redsocks_path_subflows{path="isp2"} 0
redsocks_path_connections{path="isp1"} 2
redsocks_path_retransmits_total{path="isp1"} ${retrans}
redsocks_path_interface_bytes_total{path="isp1",device="wan1",direction="down"} ${isp1Down}
redsocks_path_interface_bytes_total{path="isp1",device="wan1",direction="up"} 1000
redsocks_path_subflow_bytes_total{path="isp2",direction="down"} 500000
redsocks_connections_active{instance="0.0.0.0:12345"} 2
redsocks_connections_total{instance="0.0.0.0:12345"} 10
redsocks_connections_closed_total{instance="0.0.0.0:12345",outcome="ok",code=""} 7
redsocks_connections_closed_total{instance="0.0.0.0:12345",outcome="upstream",code="ECONNREFUSED"} 1
redsocks_handshake_seconds_count{instance="0.0.0.0:12345"} 8
redsocks_handshake_seconds_sum{instance="0.0.0.0:12345"} 0.4
redsocks_pool_requests_total{instance="0.0.0.0:12345",result="hit"} 6
redsocks_pool_requests_total{instance="0.0.0.0:12345",result="miss"} 2
redsocks_pool_connections{instance="0.0.0.0:12345",state="size"} 4
redsocks_pool_connections{instance="0.0.0.0:12345",state="idle"} 3
redsocks_optimistic_verdict{server="10.9.0.1:1080",verdict="oc"} 1
# EOF
`;
const srv = `
socks_server_connections_active 2
socks_server_connections_total 12
socks_server_connections_refused_total{stage="client"} 1
socks_server_connections_closed_total{outcome="ok",code=""} 9
socks_server_connections_closed_total{outcome="blocked",code="REP_2"} 1
socks_server_optimistic_verdicts_total{verdict="accepted"} 11
`;

test('a snapshot: paths (device or subflow bytes), connections, pool, verdicts, the server', () => {
  const s = statusFromMetrics(1000, parseMetricsText(gw(2e6, true, 5)), parseMetricsText(srv));
  expect(s.paths).toEqual([
    { name: 'isp1', source: '10.0.1.2', state: 'up', connectRttMs: 21, subflowRttMs: 25, subflows: 3, connections: 2, retrans: 5, bytesUp: 1000, bytesDown: 2e6, bytesFrom: 'device' },
    { name: 'isp2', source: '10.0.2.2', state: 'unknown', connectRttMs: null, subflowRttMs: null, subflows: 0, connections: 0, retrans: 0, bytesUp: 0, bytesDown: 500000, bytesFrom: 'subflows' },
  ]);
  expect(s).toMatchObject({
    active: 2, total: 10, closed: { ok: 7, upstream: 1 }, codes: { 'upstream ECONNREFUSED': 1 },
    pool: { size: 4, idle: 3, hits: 6, misses: 2 }, verdicts: [{ server: '10.9.0.1:1080', verdict: 'oc' }],
    server: { active: 2, total: 12, refused: 1, closed: { ok: 9, blocked: 1 }, ocAccepted: 11, ocDeclined: 0 },
  });
});

test('rates from two snapshots; the rendered rows', () => {
  const a = statusFromMetrics(1000, parseMetricsText(gw(2e6, true, 5)));
  const b = statusFromMetrics(3000, parseMetricsText(gw(7e6, false, 9)), parseMetricsText(srv));
  expect(pathRates(b, a).get('isp1')).toEqual({ downMbit: 20, upMbit: 0, retransPerS: 2 });
  expect(pathRates(b, undefined).get('isp1')!.downMbit).toBeNaN();
  const lines = renderStatus(b, a);
  expect(lines[0]).toMatch(/^path +state +rtt connect\/subflow +retrans\/s +subflows +conns +down Mbit\/s +up Mbit\/s +down MB +up MB$/);
  expect(lines[1]).toMatch(/^isp1 +DOWN +21 \/ 25 ms +2\.0 +3 +2 +20\.0 +0\.0 +7\.0 +0\.0$/);
  expect(lines[2]).toMatch(/^isp2 +unknown +- \/ - ms +0\.0 +0 +0 +0\.0 +0\.0 +0\.5 +0\.0 \(subflows\)$/);
  expect(lines.slice(3)).toEqual([
    'connections: 2 active, 10 total; closed: ok 7, upstream 1, handshake mean 50 ms',
    '  errors: upstream ECONNREFUSED 1',
    'pool: 3/4 ready, hits 6, misses 2',
    'server 10.9.0.1:1080: speaks optimistic connect',
    'server side: 2 active, 12 total, 1 refused at accept; closed: ok 9, blocked 1; optimistic connect accepted 11, declined 0',
  ]);
  expect(renderStatusLine(b, a)).toBe('isp1 DOWN down 20.0 up 0.0 Mbit/s subflows 3 rtt 25 ms | isp2 ? down 0.0 up 0.0 Mbit/s subflows 0 rtt - ms | conns 2');
});

test('no paths: the view says how to get them', () => {
  const s = statusFromMetrics(0, parseMetricsText('redsocks_connections_total{instance="x"} 0\n'));
  expect(renderStatus(s)[1]).toContain('no WAN paths');
});
