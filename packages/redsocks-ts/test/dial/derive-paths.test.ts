/** The policy of `paths = auto` on hand-made kernel readings (the reading itself is tested in namespaces). */
import { netlink } from 'mptcp-native';
import { derivePaths, rememberRoutes, type KernelSnapshot, type RouteMemory } from '../../src/dial/derive-paths';

const UP = netlink.IFF.UP | netlink.IFF.RUNNING;
const link = (index: number, name: string, up = true): netlink.LinkInfo => ({ index, name, flags: up ? UP : 0, up });
const addr = (index: number, address: string, prefixLen = 24): netlink.AddrInfo => ({ family: netlink.AF_INET, index, prefixLen, address });
const dflt = (table: number, oif: number, gateway: string): netlink.RouteInfo => ({ family: netlink.AF_INET, table, dstLen: 0, type: 1, oif, gateway, priority: 0 });
const net24 = (oif: number, dst: string): netlink.RouteInfo => ({ family: netlink.AF_INET, table: 254, dstLen: 24, dst, type: 1, oif, priority: 0 });
const rule = (src: string, table: number): netlink.RuleInfo => ({ family: netlink.AF_INET, srcLen: 32, src, table, action: 1, priority: 32765 });
const ep = (id: number, address: string, ifindex: number, flags: number = netlink.MPTCP_PM_ADDR_FLAG.SUBFLOW): netlink.MptcpEndpoint => ({ id, address, flags, ifindex });

function home(): KernelSnapshot {
  return {
    links: [link(1, 'lo'), link(2, 'wan1'), link(3, 'wan2')],
    addrs: [addr(1, '127.0.0.1', 8), addr(2, '10.0.1.2'), addr(3, '10.0.2.2')],
    routes: [dflt(254, 2, '10.0.1.1'), dflt(102, 3, '10.0.2.1'), net24(2, '10.0.1.0'), net24(3, '10.0.2.0')],
    rules: [rule('10.0.2.2', 102)],
    endpoints: [ep(1, '10.0.1.2', 2), ep(2, '10.0.2.2', 3, netlink.MPTCP_PM_ADDR_FLAG.SUBFLOW | netlink.MPTCP_PM_ADDR_FLAG.BACKUP)],
  };
}

test('two endpoints with routes: two usable paths, named after their devices, backup from the flag', () => {
  const d = derivePaths(home(), '203.0.113.9');
  expect(d.none).toBeUndefined();
  expect(d.paths.map((p) => [p.name, p.source, p.device, p.backup, p.usable])).toEqual([
    ['wan1', '10.0.1.2', 'wan1', false, true],
    ['wan2', '10.0.2.2', 'wan2', true, true],
  ]);
  expect(d.paths[0]!.why).toBe('endpoint 1 on wan1: main default route via 10.0.1.1 dev wan1');
  expect(d.paths[1]!.why).toBe('endpoint 2 on wan2: rule from 10.0.2.2/32 -> table 102 default via 10.0.2.1');
});

test('the default route interface needs no endpoint, and comes first', () => {
  const s = home();
  s.endpoints = [ep(2, '10.0.2.2', 3)];
  const d = derivePaths(s, '203.0.113.9');
  // First: a connection started on wan2's endpoint address would never get a wan1 subflow.
  expect(d.paths.map((p) => [p.name, p.source, p.usable])).toEqual([
    ['wan1', '10.0.1.2', true],
    ['wan2', '10.0.2.2', true],
  ]);
  expect(d.paths[0]!.why).toBe('main default route via 10.0.1.1 dev wan1 (no endpoint needed)');
});

test('no paths when the proxy is local, on a local network, or there is one uplink', () => {
  expect(derivePaths(home(), '127.0.0.1').none).toBe('the proxy 127.0.0.1 is on this host');
  expect(derivePaths(home(), '10.0.2.2').none).toBe('the proxy 10.0.2.2 is on this host');
  expect(derivePaths(home(), '10.0.2.77').none).toBe('the proxy 10.0.2.77 is reached through 10.0.2.0/24 dev wan2, not a default route');
  const one = home();
  one.endpoints = [];
  expect(derivePaths(one, '203.0.113.9')).toEqual({ paths: [], repairs: [], none: 'one path only (wan1 10.0.1.2): nothing to choose between' });
  expect(derivePaths({ links: [], addrs: [], routes: [], rules: [], endpoints: [] }, '203.0.113.9').none).toBe('no MPTCP subflow endpoint and no default route');
});

test('a link down, an address gone (with the renumber repair), a table without its route (with the route repair)', () => {
  const s = home();
  s.links[2] = link(3, 'wan2', false);
  expect(derivePaths(s, '203.0.113.9').paths[1]).toMatchObject({ usable: false, why: 'endpoint 2: link wan2 is down' });

  const r = home();
  r.addrs[2] = addr(3, '10.0.2.9');
  const d = derivePaths(r, '203.0.113.9');
  expect(d.paths[1]).toMatchObject({ usable: false, why: 'endpoint 2: 10.0.2.2 is no longer on wan2 (it has 10.0.2.9)' });
  expect(d.repairs).toEqual([{ kind: 'renumber', endpoint: r.endpoints[1], address: '10.0.2.9', device: 'wan2', rules: [r.rules[0]] }]);

  const mem: RouteMemory = new Map();
  rememberRoutes(home(), mem);
  expect([...mem]).toEqual([[102, { gateway: '10.0.2.1', oif: 3, device: 'wan2' }]]);
  const flap = home();
  flap.routes = flap.routes.filter((x) => x.table !== 102);
  const f = derivePaths(flap, '203.0.113.9', new Map(), mem);
  expect(f.paths[1]).toMatchObject({ usable: false, why: 'endpoint 2 on wan2: rule from 10.0.2.2/32 -> table 102, which has no default route' });
  expect(f.repairs).toEqual([{ kind: 'route', table: 102, gateway: '10.0.2.1', oif: 3, device: 'wan2', source: '10.0.2.2' }]);
});

test('an endpoint this process withdrew keeps its path, marked as such', () => {
  const s = home();
  const withdrawn = new Map([['10.0.2.2', s.endpoints[1]!]]);
  s.endpoints = [s.endpoints[0]!];
  const d = derivePaths(s, '203.0.113.9', withdrawn);
  expect(d.paths[1]).toMatchObject({ name: 'wan2', usable: true });
  expect(d.paths[1]!.why).toMatch(/^endpoint 2 \(withdrawn while the path is down\) on wan2: /);
});
