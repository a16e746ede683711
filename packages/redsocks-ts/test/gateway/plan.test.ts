import { defaultSpec, parseHostPort, parseLan, parseWan, GatewaySpec } from '../../src/gateway/spec';
import { planSetup, planUndo, Snapshot } from '../../src/gateway/plan';
import { nftRules } from '../../src/gateway/nft-rules';

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
    expect(() => parseWan('isp2=wan2,10.0.2.999,10.0.2.1')).toThrow(/not an IPv4/);
    expect(() => parseWan('isp2=wan2,10.0.2.2,10.0.2.1,fast')).toThrow(/unknown flag/);
    expect(() => parseWan('wan2,10.0.2.2')).toThrow(/expected NAME=/);
  });
  test('--lan takes an interface or a CIDR', () => {
    expect(parseLan('lan0')).toEqual({ iface: 'lan0' });
    expect(parseLan('192.168.1.0/24')).toEqual({ cidr: '192.168.1.0/24' });
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
    snap.rules = [{ priority: 1001, src: '10.0.2.2', table: '102' }];
    snap.routes = { 102: [{ dst: 'default', gateway: '10.0.2.1', dev: 'wan2' }] };
    snap.nftTable = 'table ip mptcp_gateway {}';
    snap.sysctls['net.mptcp.stale_loss_cnt'] = '2';
    const cmds = planUndo({ version: 1, spec: spec(), sysctls: { 'net.mptcp.stale_loss_cnt': '4' }, limits: { subflows: 2, addAddrAccepted: 0 }, endpoints: ['10.0.2.2'] }, snap).map((s) => s.cmd);
    expect(cmds).toEqual([
      'nft delete table ip mptcp_gateway',
      'ip rule del from 10.0.2.2 lookup 102 priority 1001',
      'ip route flush table 102',
      'ip mptcp endpoint delete id 3',
      'ip mptcp limits set subflow 2 add_addr_accepted 0',
      'sysctl -qw net.mptcp.stale_loss_cnt=4',
    ]);
  });
});

describe('nftables rules', () => {
  test('REDIRECT only LAN ingress, with the proxy and local addresses excluded first', () => {
    const r = nftRules(spec());
    const lines = r.split('\n').map((l) => l.trim());
    const ret = lines.indexOf('iifname "lan0" ip daddr 10.9.0.1 return');
    const red = lines.indexOf('iifname "lan0" meta l4proto tcp redirect to :12345');
    expect(ret).toBeGreaterThan(0);
    expect(red).toBeGreaterThan(ret);
    expect(r).toContain('hook prerouting');
    expect(r).not.toContain('hook output');
  });
  test('TPROXY variant marks and diverts', () => {
    const r = nftRules({ ...spec(), tproxy: true, lan: { cidr: '192.168.1.0/24' } });
    expect(r).toContain('ip saddr 192.168.1.0/24 meta l4proto tcp tproxy to :12345 meta mark set 0x4d50 accept');
    expect(r).toContain('ip daddr { 10.9.0.1, 192.168.1.0/24 } return');
  });
});
