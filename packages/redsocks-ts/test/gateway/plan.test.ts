import { defaultSpec, parseHostPort, parseLan, parseQuic, parseWan, validate, GatewaySpec } from '../../src/gateway/spec';
import { planSetup, planUndo, Snapshot } from '../../src/gateway/plan';
import { loadedHash, nftRules } from '../../src/gateway/nft-rules';

function spec(): GatewaySpec {
  return {
    ...defaultSpec(),
    wans: [parseWan('isp1=wan1,10.0.1.2,10.0.1.1'), parseWan('isp2=wan2,10.0.2.2,10.0.2.1,backup')],
    lan: parseLan('lan0'),
    proxy: parseHostPort('10.9.0.1:1080', '--proxy'),
    redsocksPort: 12345,
  };
}

function emptySnap(): Snapshot {
  return {
    sysctls: {
      'net.mptcp.enabled': '1', 'net.mptcp.pm_type': '0', 'net.mptcp.stale_loss_cnt': '4', 'net.mptcp.blackhole_timeout': '3600',
      'net.ipv4.tcp_fastopen': '0', 'net.ipv4.conf.all.rp_filter': '1',
      'net.ipv4.conf.wan1.rp_filter': '0', 'net.ipv4.conf.wan2.rp_filter': '0',
    },
    limits: { subflows: 0, addAddrAccepted: 0 },
    endpoints: [],
    rules: [],
    routes: {},
  };
}

describe('mptcp-gateway argument parsing', () => {
  test('--wan NAME=IFACE,ADDR,GW[,backup]', () => {
    expect(parseWan('isp2=wan2,10.0.2.2,10.0.2.1,backup')).toEqual({ name: 'isp2', iface: 'wan2', addr: '10.0.2.2', gw: '10.0.2.1', backup: true });
    expect(() => parseWan('isp2=wan2,10.0.2.999,10.0.2.1')).toThrow(/not an IPv4 or IPv6/);
    expect(parseWan('isp1v6=wan1,fd00:1::2,fd00:1::1')).toEqual({ name: 'isp1v6', iface: 'wan1', addr: 'fd00:1::2', gw: 'fd00:1::1', backup: false });
    expect(() => parseWan('isp1=wan1,fd00:1::2,10.0.1.1')).toThrow(/gateway "10.0.1.1" is not an IPv6 address/);
    expect(() => parseWan('isp2=wan2,10.0.2.2,10.0.2.1,fast')).toThrow(/unknown flag/);
    expect(() => parseWan('wan2,10.0.2.2')).toThrow(/expected NAME=/);
  });
  test('--lan takes an interface or a CIDR', () => {
    expect(parseLan('lan0')).toEqual({ iface: 'lan0' });
    expect(parseLan('192.168.1.0/24')).toEqual({ cidr: '192.168.1.0/24' });
    expect(parseLan('fd77::/64')).toEqual({ cidr: 'fd77::/64' });
    expect(() => parseLan('10.0.0.0/33')).toThrow(/expected an interface name or an IPv4\/IPv6 CIDR/);
  });
  test('--proxy IPv4:PORT or [IPv6]:PORT, --quic', () => {
    expect(parseHostPort('[fd09::1]:1080', '--proxy')).toEqual({ host: 'fd09::1', port: 1080 });
    expect(() => parseHostPort('fd09::1:1080', '--proxy')).toThrow(/expected IPv4:PORT or \[IPv6\]:PORT/);
    expect(() => parseHostPort('10.0.0.1:0', '--proxy')).toThrow(/expected/);
    expect(parseQuic('direct')).toBe('direct');
    expect(() => parseQuic('allow')).toThrow(/expected reject, direct or redudp/);
  });
  test('cross-flag checks', () => {
    const base = spec();
    expect(() => validate({ ...base, quic: 'redudp' })).toThrow(/--quic redudp needs --udp-port/);
    expect(() => validate({ ...base, lan: undefined, redsocksPort: undefined, dnsPort: 5353 })).toThrow(/--dns-port needs --lan/);
    expect(() => validate({ ...base, udpPort: 70000 })).toThrow(/bad --udp-port/);
    expect(() => validate({ ...base, lan: { cidr: 'fd77::/64' }, ipv6: false })).toThrow(/--ipv4-only/);
    expect(() => validate({ ...base, dnsPort: 5353, udpPort: 10000, quic: 'redudp' })).not.toThrow();
  });
});

describe('setup plan', () => {
  test('a fresh gateway gets sysctls, limits, endpoints, policy routes and the redirect', () => {
    const cmds = planSetup(spec(), emptySnap()).map((s) => s.cmd);
    expect(cmds).toContain('sysctl -qw net.mptcp.stale_loss_cnt=2');
    expect(cmds).toContain('sysctl -qw net.mptcp.blackhole_timeout=0');
    expect(cmds).toContain('sysctl -qw net.ipv4.tcp_fastopen=1');
    expect(cmds).toContain('sysctl -qw net.ipv4.conf.all.rp_filter=2');
    expect(cmds).toContain('ip mptcp limits set subflow 2 add_addr_accepted 2');
    expect(cmds).toContain('ip mptcp endpoint add 10.0.1.2 dev wan1 subflow');
    expect(cmds).toContain('ip mptcp endpoint add 10.0.2.2 dev wan2 subflow backup');
    expect(cmds).toContain('ip route replace default via 10.0.2.1 dev wan2 table 102');
    expect(cmds).toContain('ip rule add from 10.0.2.2 lookup 102 priority 1001');
    expect(cmds).toContain('nft -f -');
    expect(cmds.indexOf('sysctl -qw net.mptcp.enabled=1')).toBe(-1); // already 1
  });

  test('every step explains itself', () => {
    for (const s of planSetup(spec(), emptySnap())) expect(s.why.length).toBeGreaterThan(10);
  });

  test('TFO keeps the other bits of tcp_fastopen', () => {
    const snap = emptySnap();
    snap.sysctls['net.ipv4.tcp_fastopen'] = '1026';
    expect(planSetup(spec(), snap).map((s) => s.cmd)).toContain('sysctl -qw net.ipv4.tcp_fastopen=1027');
    const srv = { ...spec(), role: 'server' as const };
    snap.sysctls['net.ipv4.tcp_fastopen'] = '1025';
    expect(planSetup(srv, snap).map((s) => s.cmd)).toContain('sysctl -qw net.ipv4.tcp_fastopen=1027');
  });

  test('an endpoint with the wrong flags is replaced, a matching one left alone', () => {
    const snap = emptySnap();
    snap.endpoints = [
      { id: 7, address: '10.0.1.2', dev: 'wan1', flags: ['subflow'] },
      { id: 8, address: '10.0.2.2', dev: 'wan2', flags: ['subflow'] },
    ];
    const cmds = planSetup(spec(), snap).map((s) => s.cmd);
    expect(cmds.some((c) => c.includes('10.0.1.2 dev wan1'))).toBe(false);
    expect(cmds).toContain('ip mptcp endpoint delete id 8 && ip mptcp endpoint add 10.0.2.2 dev wan2 subflow backup');
  });

  test('server role: only sysctls and limits', () => {
    const srv = { ...defaultSpec(), role: 'server' as const };
    const cmds = planSetup(srv, emptySnap()).map((s) => s.cmd);
    expect(cmds).toContain('ip mptcp limits set subflow 2 add_addr_accepted 2');
    expect(cmds.some((c) => c.startsWith('ip rule') || c.startsWith('nft'))).toBe(false);
  });

  test('undo reverses what setup recorded', () => {
    const snap = emptySnap();
    snap.endpoints = [{ id: 3, address: '10.0.2.2', dev: 'wan2', flags: ['subflow', 'backup'] }];
    snap.rules = [{ family: 4, priority: 1001, src: '10.0.2.2', table: '102' }];
    snap.routes = { 102: [{ dst: 'default', gateway: '10.0.2.1', dev: 'wan2' }] };
    snap.nftTable = 'table inet mptcp_gateway {}';
    snap.sysctls['net.mptcp.stale_loss_cnt'] = '2';
    const cmds = planUndo({ version: 1, spec: spec(), sysctls: { 'net.mptcp.stale_loss_cnt': '4' }, limits: { subflows: 2, addAddrAccepted: 0 }, endpoints: ['10.0.2.2'] }, snap).map((s) => s.cmd);
    expect(cmds).toEqual([
      'nft delete table inet mptcp_gateway',
      'ip rule del from 10.0.2.2 lookup 102 priority 1001',
      'ip route flush table 102',
      'ip mptcp endpoint delete id 3',
      'ip mptcp limits set subflow 2 add_addr_accepted 0',
      'sysctl -qw net.mptcp.stale_loss_cnt=4',
    ]);
  });
});

describe('nftables rules', () => {
  const lines = (r: string): string[] => r.split('\n').map((l) => l.trim());

  test('REDIRECT only LAN ingress (both families), after the bypasses: local, private (v4 and v6) and the proxy', () => {
    const r = lines(nftRules(spec()));
    expect(r[0]).toBe('table inet mptcp_gateway {');
    const at = (l: string): number => {
      const i = r.indexOf(l);
      expect({ l, found: i >= 0 }).toEqual({ l, found: true });
      return i;
    };
    const red = at('iifname "lan0" meta l4proto tcp redirect to :12345');
    for (const b of ['iifname "lan0" fib daddr type local return', 'iifname "lan0" ip daddr @bypass4 return', 'iifname "lan0" ip6 daddr @bypass6 return', 'iifname "lan0" ip daddr 10.9.0.1 return']) {
      expect(at(b)).toBeLessThan(red);
    }
    expect(r).toContain('elements = { 0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 172.16.0.0/12, 192.168.0.0/16, 224.0.0.0/3 }');
    expect(r).toContain('elements = { ::/127, ::ffff:0:0/96, fc00::/7, fe80::/10, ff00::/8 }');
    // the listener takes only redirected connections; nothing in the output hook
    expect(r).toContain('tcp dport 12345 ct status dnat accept');
    expect(r).toContain('tcp dport 12345 reject with tcp reset');
    expect(r.join('\n')).not.toContain('hook output');
    // QUIC is rejected by default, after the bypasses
    expect(at('iifname "lan0" udp dport 443 reject with icmpx port-unreachable')).toBeGreaterThan(0);
  });

  test('TPROXY variant marks and diverts; the listener takes only marked packets', () => {
    const r = nftRules({ ...spec(), tproxy: true, lan: { cidr: '192.168.1.0/24' } });
    expect(r).toContain('ip saddr 192.168.1.0/24 meta l4proto tcp tproxy to :12345 meta mark set 0x4d50 accept');
    expect(r).toContain('ip saddr 192.168.1.0/24 ip daddr 10.9.0.1 return');
    expect(r).toContain('tcp dport 12345 meta mark 0x4d50 accept');
    expect(r).not.toContain('redirect to :12345');
  });

  test('DNS first (any destination, the gateway too), UDP to redudp except DNS and QUIC, the forwarder only for the LAN', () => {
    const r = lines(nftRules({ ...spec(), dnsPort: 5353, udpPort: 10000 }));
    const dns = r.indexOf('iifname "lan0" udp dport 53 redirect to :5353');
    expect(dns).toBeGreaterThan(0);
    expect(r.indexOf('iifname "lan0" tcp dport 53 redirect to :5353')).toBe(dns + 1);
    expect(r.indexOf('iifname "lan0" fib daddr type local return')).toBeGreaterThan(dns);
    const udp = r.indexOf('iifname "lan0" meta l4proto udp tproxy to :10000 meta mark set 0x4d50 accept');
    expect(r.indexOf('iifname "lan0" udp dport 53 return')).toBeLessThan(udp);
    expect(r.indexOf('iifname "lan0" udp dport 443 return')).toBeLessThan(udp);
    expect(r).toContain('udp dport 10000 meta mark 0x4d50 accept');
    expect(r).toContain('udp dport 10000 drop');
    expect(r).toContain('iifname "lan0" meta l4proto { tcp, udp } th dport 5353 accept');
    expect(r).toContain('meta l4proto { tcp, udp } th dport 5353 drop');
    const quic = lines(nftRules({ ...spec(), udpPort: 10000, quic: 'redudp' }));
    expect(quic).not.toContain('iifname "lan0" udp dport 443 return');
    expect(quic.join('\n')).not.toContain('reject with icmpx');
    expect(nftRules({ ...spec(), quic: 'direct' })).not.toContain('dport 443');
  });

  test('--ipv4-only: IPv6 is left alone', () => {
    const r = nftRules({ ...spec(), ipv6: false, dnsPort: 5353 });
    expect(r).toContain('iifname "lan0" meta nfproto ipv4 meta l4proto tcp redirect to :12345');
    expect(r).toContain('iifname "lan0" meta nfproto ipv4 udp dport 53 redirect to :5353');
    expect(r).not.toContain('bypass6');
  });

  test('the table carries the hash of its text; setup re-applies only when it changed', () => {
    const r = nftRules(spec());
    expect(loadedHash(r)).toMatch(/^[0-9a-f]{16}$/);
    expect(loadedHash(nftRules({ ...spec(), quic: 'direct' }))).not.toBe(loadedHash(r));
    const snap = emptySnap();
    snap.nftTable = r.replace(/\n\s*/g, '\n\t');
    expect(planSetup(spec(), snap).some((s) => s.cmd === 'nft -f -')).toBe(false);
    snap.legacyNftTable = 'table ip mptcp_gateway {}';
    expect(planSetup(spec(), snap).map((s) => s.cmd)).toContain('nft delete table ip mptcp_gateway');
  });

  test('TPROXY routing for redudp, in both families; v6 WAN routes and rules with ip -6', () => {
    const s = { ...spec(), udpPort: 10000, wans: [...spec().wans, parseWan('isp1v6=wan1,fd00:1::2,fd00:1::1')] };
    const cmds = planSetup(s, emptySnap()).map((x) => x.cmd);
    expect(cmds).toContain('ip rule add fwmark 0x4d50 lookup 99 priority 999');
    expect(cmds).toContain('ip -6 rule add fwmark 0x4d50 lookup 99 priority 999');
    expect(cmds).toContain('ip route replace local 0.0.0.0/0 dev lo table 99');
    expect(cmds).toContain('ip -6 route replace local ::/0 dev lo table 99');
    expect(cmds).toContain('ip -6 route replace default via fd00:1::1 dev wan1 table 103');
    expect(cmds).toContain('ip -6 rule add from fd00:1::2 lookup 103 priority 1002');
    expect(cmds).toContain('ip mptcp endpoint add fd00:1::2 dev wan1 subflow');
  });
});
