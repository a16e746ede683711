/**
 * Real MPTCP between two namespaces joined by two veth paths (10.1.1.0/24 and 10.1.2.0/24),
 * with per-source policy routing and a `subflow` endpoint on the client.
 */
import { ChildProcess } from 'node:child_process';
import { Netns, veth, waitFor, destroyAll } from '@mptcp-proxy/lab';
import { Json, recordFacts, runClient, runClientFull, startServer } from './helpers';

const SRV = '10.1.1.2';
let cli: Netns;
let srv: Netns;
let server: { child: ChildProcess; lines: Json[]; ports: Record<string, number> };

beforeAll(async () => {
  cli = Netns.create('mpc');
  srv = Netns.create('mps');
  veth(cli, 'c1', '10.1.1.1/24', srv, 's1', '10.1.1.2/24');
  veth(cli, 'c2', '10.1.2.1/24', srv, 's2', '10.1.2.2/24');
  for (const ns of [cli, srv]) {
    ns.exec('sysctl -qw net.ipv4.tcp_fastopen=3 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0');
    ns.exec('ip mptcp limits set subflow 2 add_addr_accepted 2');
  }
  cli.exec('ip rule add from 10.1.2.1 table 102 && ip route add default via 10.1.2.2 dev c2 table 102');
  cli.exec('ip mptcp endpoint add 10.1.2.1 dev c2 subflow');
  // SO_MARK test: marked connections take path 2.
  cli.exec('ip rule add fwmark 0x42 table 102');
  // IPv6 on path 1 (for IP6T_SO_ORIGINAL_DST), and the TPROXY prefix behind the server.
  cli.exec('ip -6 addr add fd00:1::1/64 dev c1 nodad && ip route add 10.9.8.0/24 via 10.1.1.2');
  srv.exec('ip -6 addr add fd00:1::2/64 dev s1 nodad');
  // (5) failure modes: no route at all -> ENETUNREACH; an unreachable route -> EHOSTUNREACH;
  // SYNs to port 7999 silently dropped -> our timeout.
  cli.exec('ip route add unreachable 10.66.0.0/16');
  srv.exec([
    'nft add table inet t',
    "nft add chain inet t in '{ type filter hook input priority 0; }'",
    'nft add rule inet t in tcp dport 7999 drop',
  ].join(' && '));
  // (4) REDIRECT 7000 -> the plain TCP listener, 7001 -> the MPTCP listener.
  srv.exec([
    'nft add table ip nat',
    "nft add chain ip nat pre '{ type nat hook prerouting priority -100; }'",
    'nft add rule ip nat pre meta l4proto tcp tcp dport 7000 redirect to :5001',
    'nft add rule ip nat pre meta l4proto tcp tcp dport 7001 redirect to :5000',
    'nft add table ip6 nat6',
    "nft add chain ip6 nat6 pre '{ type nat hook prerouting priority -100; }'",
    'nft add rule ip6 nat6 pre meta l4proto tcp tcp dport 7000 redirect to :5003',
    // TPROXY 10.9.8.0/24 -> the transparent MPTCP listener on :5004
    'ip rule add fwmark 1 lookup 100',
    'ip route add local 0.0.0.0/0 dev lo table 100',
    'nft add table ip mangle',
    "nft add chain ip mangle pre '{ type filter hook prerouting priority -150; }'",
    'nft add rule ip mangle pre ip daddr 10.9.8.0/24 meta l4proto tcp tproxy to :5004 meta mark set 1 accept',
  ].join(' && '));
  server = await startServer(srv, [
    { name: 'mptcp', host: '0.0.0.0', port: 5000, mptcp: 'on' },
    { name: 'tcp', host: '0.0.0.0', port: 5001, mptcp: 'off' },
    { name: 'tfo', host: '0.0.0.0', port: 5002, mptcp: 'on', fastOpen: 16 },
    { name: 'tcp6', host: '::', port: 5003, mptcp: 'off', ipv6Only: true },
    { name: 'tproxy', host: '0.0.0.0', port: 5004, mptcp: 'on', transparent: true },
  ]);
}, 60000);

afterAll(() => {
  destroyAll();
});

test('(1) an MPTCP connection gets 2 subflows over both paths', () => {
  const [r] = runClient(cli, [{ connect: { host: SRV, port: server.ports.mptcp, mptcp: 'on' }, send: 'hello two paths', expectSubflows: 2 }]);
  expect(r.ok).toBe(true);
  expect(r.echoed).toBe('hello two paths');
  expect(r.protocol).toBe(262);
  expect(r.info).not.toBeNull();
  expect(r.info.subflows).toBe(2);
  const locals = r.subflows.map((s: Json) => s.local.address).sort();
  expect(locals).toEqual(['10.1.1.1', '10.1.2.1']);
  for (const s of r.subflows) expect(s.remote).toEqual({ address: SRV, port: server.ports.mptcp });
  expect(r.remote).toEqual({ address: SRV, port: server.ports.mptcp });
  recordFacts('twoSubflows', {
    mptcpInfoSubflows: r.info.subflows,
    extraSubflows: r.info.extraSubflows,
    subflows: r.subflows.map((s: Json) => `${s.local.address}:${s.local.port} -> ${s.remote.address}:${s.remote.port} rtt=${s.rttUs}us state=${s.state}`),
  });
});

test('(2) fallback against a plain TCP server: mptcpInfo null, data flows', async () => {
  const [r] = runClient(cli, [{ connect: { host: SRV, port: server.ports.tcp, mptcp: 'on' }, send: 'plain tcp' }]);
  expect(r.ok).toBe(true);
  expect(r.echoed).toBe('plain tcp');
  expect(r.protocol).toBe(262); // created as MPTCP ...
  expect(r.info).toBeNull(); // ... but fell back
  expect(r.subflows).toEqual([]);
  const acc = (await waitFor(() => server.lines.filter((l) => l.event === 'accepted' && l.name === 'tcp').pop(), 5000, 'accept')) as Json;
  expect(acc.isMptcp).toBe(false);
  recordFacts('fallback', { mptcpInfo: r.info, subflows: r.subflows.length, echoed: r.echoed });
});

test('(3) TFO: the second connection carries its data in the SYN', () => {
  const before = cli.counter('TcpExtTCPFastOpenActive');
  const op = { connect: { host: SRV, port: server.ports.tfo, mptcp: 'on', fastOpen: true }, send: 'tfo data' };
  const [first, second] = runClient(cli, [op, op]);
  const after = cli.counter('TcpExtTCPFastOpenActive');
  expect(first.ok && second.ok).toBe(true);
  expect(second.echoed).toBe('tfo data');
  expect(second.info).not.toBeNull();
  const SYN_DATA = 0x20;
  expect(second.tcpInfo.options & SYN_DATA).toBe(SYN_DATA);
  expect(after - before).toBeGreaterThanOrEqual(1);
  recordFacts('tfo', {
    TcpExtTCPFastOpenActiveDelta: after - before,
    firstTcpiOptions: `0x${first.tcpInfo.options.toString(16)}`,
    secondTcpiOptions: `0x${second.tcpInfo.options.toString(16)}`,
    secondSynData: (second.tcpInfo.options & SYN_DATA) !== 0,
  });
});

test('(4) originalDst returns the pre-REDIRECT address; an MPTCP-accepted socket explains why not', async () => {
  const acceptedBefore = server.lines.length;
  const results = runClient(cli, [
    { connect: { host: SRV, port: 7000, mptcp: 'auto' }, send: 'via redirect' },
    { connect: { host: SRV, port: 7001, mptcp: 'on' }, send: 'mptcp redirect' },
    { connect: { host: SRV, port: 7001, mptcp: 'off' }, send: 'tcp to mptcp listener' },
  ]);
  expect(results.map((r) => r.echoed)).toEqual(['via redirect', 'mptcp redirect', 'tcp to mptcp listener']);
  const accepted = (await waitFor(() => {
    const a = server.lines.slice(acceptedBefore).filter((l) => l.event === 'accepted');
    return a.length >= 3 ? a : null;
  }, 5000, 'three accepts')) as Json[];
  const plain = accepted.find((a) => a.name === 'tcp') as Json;
  expect(plain.originalDst).toEqual({ address: SRV, port: 7000, family: 4 });
  const mp = accepted.find((a) => a.name === 'mptcp' && a.isMptcp) as Json;
  expect(mp.originalDstError.code).toBe('EMPTCP_ORIGINAL_DST');
  expect(mp.originalDstError.message).toMatch(/MPTCP.*SO_ORIGINAL_DST.*plain TCP listener.*TPROXY/);
  const tcpToMp = accepted.find((a) => a.name === 'mptcp' && !a.isMptcp) as Json;
  expect(tcpToMp.protocol).toBe(6);
  expect(tcpToMp.originalDst).toEqual({ address: SRV, port: 7001, family: 4 });
  recordFacts('originalDst', {
    plainListener: plain.originalDst,
    mptcpListenerMptcpClient: mp.originalDstError.code,
    mptcpListenerTcpClient: tcpToMp.originalDst,
  });
});

test('(5) refused, unreachable and timed-out connects give the right code', () => {
  const results = runClient(cli, [
    { connect: { host: SRV, port: 5999, mptcp: 'on' } },
    { connect: { host: '10.66.1.1', port: 80, mptcp: 'on' } },
    { connect: { host: '10.88.1.1', port: 80, mptcp: 'on' } },
    { connect: { host: SRV, port: 7999, mptcp: 'on', timeout: 300 } },
  ]);
  const codes = results.map((r) => r.error?.code);
  expect(codes).toEqual(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT']);
  for (const r of results) expect(r.error.syscall).toBe('connect');
  expect(results[0].error).toMatchObject({ address: SRV, port: 5999 });
  expect(results[3].error).toMatchObject({ address: SRV, port: 7999 });
  recordFacts('connectErrors', results.map((r) => r.error.message));
});

test('(4b) IPv6: IP6T_SO_ORIGINAL_DST after an ip6 REDIRECT', async () => {
  const before = server.lines.length;
  const [r] = runClient(cli, [{ connect: { host: 'fd00:1::2', port: 7000, mptcp: 'auto' }, send: 'v6 redirect' }]);
  expect(r.echoed).toBe('v6 redirect');
  const acc = (await waitFor(() => server.lines.slice(before).find((l) => l.event === 'accepted' && l.name === 'tcp6'), 5000, 'v6 accept')) as Json;
  expect(acc.originalDst).toEqual({ address: 'fd00:1::2', port: 7000, family: 6 });
  recordFacts('originalDst6', acc.originalDst);
});

test('(4c) TPROXY: a transparent MPTCP listener sees the original destination via localAddressOf', async () => {
  const before = server.lines.length;
  const [r] = runClient(cli, [{ connect: { host: '10.9.8.7', port: 7100, mptcp: 'on' }, send: 'tproxied' }]);
  expect(r.echoed).toBe('tproxied');
  expect(r.info).not.toBeNull();
  const acc = (await waitFor(() => server.lines.slice(before).find((l) => l.event === 'accepted' && l.name === 'tproxy'), 5000, 'tproxy accept')) as Json;
  expect(acc.isMptcp).toBe(true);
  expect(acc.local).toEqual({ address: '10.9.8.7', port: 7100, family: 4 });
  recordFacts('tproxy', { localAddressOf: acc.local, clientSubflows: r.info.subflows });
});

test('SO_MARK and SO_BINDTODEVICE steer the connection onto path 2', () => {
  const [marked, bound, local] = runClient(cli, [
    { connect: { host: SRV, port: server.ports.tcp, mptcp: 'off', mark: 0x42 }, send: 'm' },
    { connect: { host: SRV, port: server.ports.tcp, mptcp: 'off', bindDevice: 'c2' }, send: 'b' },
    { connect: { host: SRV, port: server.ports.tcp, mptcp: 'off', localAddress: '10.1.2.1' }, send: 'l' },
  ]);
  expect(marked.local.address).toBe('10.1.2.1');
  expect(bound.local.address).toBe('10.1.2.1');
  expect(local.local.address).toBe('10.1.2.1');
  expect([marked.echoed, bound.echoed, local.echoed]).toEqual(['m', 'b', 'l']);
});

test("net.mptcp.enabled=0: 'auto' falls back to TCP with one warning, 'on' fails saying why", () => {
  const off = Netns.create('mpo');
  try {
    off.exec('sysctl -qw net.mptcp.enabled=0');
    const { results, warnings } = runClientFull(off, [
      { loopback: { listen: { host: '127.0.0.1', port: 0, mptcp: 'auto' }, connect: { mptcp: 'auto' } } },
      { loopback: { listen: { host: '127.0.0.1', port: 0, mptcp: 'auto' }, connect: { mptcp: 'auto' } } },
      { loopback: { listen: { host: '127.0.0.1', port: 0, mptcp: 'off' }, connect: { mptcp: 'on' } } },
      { loopback: { listen: { host: '127.0.0.1', port: 0, mptcp: 'on' }, connect: { mptcp: 'off' } } },
    ]);
    expect(results[0]).toMatchObject({ ok: true, listenProtocol: 6, protocol: 6 });
    expect(results[1]).toMatchObject({ ok: true, listenProtocol: 6, protocol: 6 });
    for (const r of [results[2], results[3]]) {
      expect(r.ok).toBe(false);
      expect(r.error.code).toBe('EMPTCP_UNAVAILABLE');
      expect(r.error.message).toMatch(/ENOPROTOOPT.*net\.mptcp\.enabled=0/);
    }
    expect(warnings.filter((w) => w.includes('using plain TCP'))).toHaveLength(1);
  } finally {
    off.destroy();
  }
});
