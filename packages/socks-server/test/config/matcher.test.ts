import { networkInterfaces } from 'node:os';
import { matchClientRules, matchRule, matchSocksRules, parseDantedConfig, type DantedConfig, type MatchContext } from '../../src/config';
import { cidrContains, ipBytes } from '../../src/config/ip';

const HEAD = 'internal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nsocksmethod: none username\nclientmethod: none\n';
const load = (rules: string): DantedConfig => parseDantedConfig(HEAD + rules + '\n', 'match.conf').config;

const base: MatchContext = {
  clientAddress: '192.0.2.10',
  clientPort: 40000,
  serverAddress: '127.0.0.1',
  serverPort: 1080,
  command: 'connect',
  protocol: 'tcp',
  proxyProtocol: 'socks_v5',
  method: 'none',
  dest: { host: '198.51.100.7', port: 443 },
};
const ctx = (over: Partial<MatchContext>): MatchContext => ({ ...base, ...over });

describe('IP helpers', () => {
  it('parses IPv4, IPv6 and IPv4-mapped addresses', () => {
    expect(ipBytes('10.1.2.3')).toEqual([10, 1, 2, 3]);
    expect(ipBytes('::ffff:10.1.2.3')).toEqual([10, 1, 2, 3]);
    expect(ipBytes('2001:db8::1')).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(ipBytes('::')).toEqual(new Array(16).fill(0));
    expect(ipBytes('example.com')).toBeUndefined();
  });
  it('matches CIDR prefixes on bit boundaries', () => {
    expect(cidrContains('10.0.0.0', 8, '10.255.1.1')).toBe(true);
    expect(cidrContains('10.0.0.0', 8, '11.0.0.1')).toBe(false);
    expect(cidrContains('192.168.1.128', 25, '192.168.1.200')).toBe(true);
    expect(cidrContains('192.168.1.128', 25, '192.168.1.127')).toBe(false);
    expect(cidrContains('10.1.2.3', 8, '10.9.9.9')).toBe(true); // host bits in the rule are ignored
    expect(cidrContains('2001:db8::', 32, '2001:db8:ffff::1')).toBe(true);
    expect(cidrContains('2001:db8::', 33, '2001:db8:8000::1')).toBe(false);
    expect(cidrContains('0.0.0.0', 0, '::1')).toBe(false); // 0.0.0.0/0 is IPv4 only
    expect(cidrContains('127.0.0.0', 8, '::ffff:127.0.0.1')).toBe(true);
  });
});

describe('socks rules: first match wins, default block', () => {
  const config = load(
    [
      'socks block { from: 0/0 to: 10.0.0.0/8 }',
      'socks pass { from: 192.0.2.0/24 to: 0/0 port = 443 }',
      'socks pass { from: 0/0 to: 0/0 port 8000-8080 }',
    ].join('\n'),
  );
  it('returns the first matching rule', () => {
    expect(matchSocksRules(config, base)).toEqual({ rule: config.socksRules[1], pass: true });
    expect(matchSocksRules(config, ctx({ dest: { host: '10.1.1.1', port: 443 } }))).toEqual({ rule: config.socksRules[0], pass: false });
    expect(matchSocksRules(config, ctx({ clientAddress: '203.0.113.1', dest: { host: '198.51.100.7', port: 8080 } })).rule?.number).toBe(3);
  });
  it('blocks by default when nothing matches', () => {
    expect(matchSocksRules(config, ctx({ clientAddress: '203.0.113.1' }))).toEqual({ rule: undefined, pass: false });
    expect(matchRule([], base)).toEqual({ rule: undefined, pass: false });
  });
  it('unmaps IPv4-mapped client addresses', () => {
    expect(matchSocksRules(config, ctx({ clientAddress: '::ffff:192.0.2.99' })).pass).toBe(true);
  });
});

describe('client rules use the internal address as "to"', () => {
  const config = load(
    [
      'client pass { from: 127.0.0.0/8 to: 0/0 }',
      'client pass { from: 192.0.2.0/24 port 1024-65535 to: 192.0.2.2/32 port = 1080 }',
      'client pass { from: 0/0 to: lo }',
      'client block { from: 0/0 to: 0/0 }',
    ].join('\n'),
  );
  it('matches client source and server address/port', () => {
    expect(matchClientRules(config, ctx({ clientAddress: '127.0.0.5', serverAddress: '192.0.2.2' })).rule?.number).toBe(1);
    expect(matchClientRules(config, ctx({ serverAddress: '192.0.2.2', serverPort: 1080 })).rule?.number).toBe(2);
    expect(matchClientRules(config, ctx({ serverAddress: '192.0.2.2', serverPort: 1081 })).rule?.number).toBe(4);
    expect(matchClientRules(config, ctx({ clientPort: 1000, serverAddress: '192.0.2.2' })).rule?.number).toBe(4);
    expect(matchClientRules(config, ctx({ serverAddress: '192.0.2.2' })).pass).toBe(true);
  });
  it('matches an interface by name or by its addresses', () => {
    expect(matchClientRules(config, ctx({ serverAddress: '127.0.0.1' })).rule?.number).toBe(3);
    expect(matchClientRules(config, ctx({ serverAddress: '::1' })).rule?.number).toBe(3);
    expect(matchClientRules(config, ctx({ serverAddress: '203.0.113.9', interfaceName: 'lo' })).rule?.number).toBe(3);
    expect(matchClientRules(config, ctx({ serverAddress: '203.0.113.9' })).rule?.number).toBe(4);
  });
  it('ignores socks-stage conditions (command etc.) in client rules', () => {
    expect(matchClientRules(config, ctx({ command: 'udpassociate', clientAddress: '127.0.0.1' })).pass).toBe(true);
  });
});

describe('address kinds in socks rules', () => {
  const config = load(
    [
      'socks pass { from: 0/0 to: .example.com }',
      'socks pass { from: 0/0 to: host.test }',
      'socks pass { from: 0/0 to: 2001:db8::/32 port >= 1024 }',
      'socks pass { from: 0/0 to: lo }',
      'socks pass { from: 0/0 to: 203.0.113.0/24 }',
    ].join('\n'),
  );
  const dest = (host: string, port = 80, extra: Partial<MatchContext> = {}) =>
    matchSocksRules(config, ctx({ dest: { host, port }, ...extra })).rule?.number;
  it('.domain matches the domain itself and every name under it, case-insensitively', () => {
    expect(dest('example.com')).toBe(1);
    expect(dest('WWW.Example.Com')).toBe(1);
    expect(dest('a.b.example.com.')).toBe(1);
    expect(dest('badexample.com')).toBeUndefined();
    expect(dest('example.com.evil')).toBeUndefined();
  });
  it('a hostname matches only itself', () => {
    expect(dest('HOST.test')).toBe(2);
    expect(dest('www.host.test')).toBeUndefined();
  });
  it('IPv6 CIDR with a port operator', () => {
    expect(dest('2001:db8::5', 1024)).toBe(3);
    expect(dest('2001:db8::5', 1023)).toBeUndefined();
    expect(dest('2001:db9::5', 1024)).toBeUndefined();
  });
  it('an interface name matches the addresses on that interface', () => {
    expect(dest('127.0.0.1')).toBe(4);
    expect(dest('::1')).toBe(4);
    expect(dest('127.0.0.2')).toBeUndefined(); // 127.0.0.1/8 is on lo but only .1 is an address
    const eth = Object.entries(networkInterfaces()).find(([n, a]) => n !== 'lo' && (a ?? []).some((x) => x.family === 'IPv4'));
    if (eth) expect(dest(eth[1]!.find((x) => x.family === 'IPv4')!.address)).toBeUndefined();
  });
  it('a hostname destination matches CIDR rules through resolved addresses only', () => {
    expect(dest('name.test')).toBeUndefined();
    expect(dest('name.test', 80, { destAddresses: ['203.0.113.4'] })).toBe(5);
  });
  it('an IP client matches hostname/.domain rules through its reverse names', () => {
    const c = load('socks pass { from: .corp.test to: 0/0 }');
    expect(matchSocksRules(c, base).pass).toBe(false);
    expect(matchSocksRules(c, ctx({ clientHostnames: ['pc1.corp.test'] })).pass).toBe(true);
  });
});

describe('command, protocol, proxyprotocol, method, user, group', () => {
  const config = load(
    [
      'socks pass {', 'from: 0/0 to: 0/0', 'command: bind bindreply', '}',
      'socks pass {', 'from: 0/0 to: 0/0', 'protocol: udp', '}',
      'socks pass {', 'from: 0/0 to: 0/0', 'proxyprotocol: socks_v4', '}',
      'socks pass {', 'from: 0/0 to: 0/0', 'socksmethod: username', 'user: alice bob', '}',
      'socks pass {', 'from: 0/0 to: 0/0', 'socksmethod: username', 'group: wheel', '}',
      'socks block {', 'from: 0/0 to: 0/0', '}',
    ].join('\n'),
  );
  const n = (over: Partial<MatchContext>) => matchSocksRules(config, ctx(over)).rule?.number;
  it('command', () => {
    expect(n({ command: 'bind' })).toBe(1);
    expect(n({ command: 'bindreply' })).toBe(1);
    expect(n({ command: 'connect' })).toBe(6);
  });
  it('protocol', () => {
    expect(n({ command: 'udpassociate', protocol: 'udp' })).toBe(2);
    expect(n({ command: 'udpreply', protocol: 'udp' })).toBe(2);
  });
  it('proxyprotocol', () => {
    expect(n({ proxyProtocol: 'socks_v4' })).toBe(3);
    expect(n({ proxyProtocol: 'socks_v5' })).toBe(6);
  });
  it('socksmethod and user', () => {
    expect(n({ method: 'username', user: 'alice' })).toBe(4);
    expect(n({ method: 'username', user: 'bob' })).toBe(4);
    expect(n({ method: 'username', user: 'carol' })).toBe(6);
    expect(n({ method: 'none', user: 'alice' })).toBe(6);
    expect(n({ method: 'username' })).toBe(6);
  });
  it('group', () => {
    expect(n({ method: 'username', user: 'carol', groups: ['users', 'wheel'] })).toBe(5);
    expect(n({ method: 'username', user: 'carol', groups: ['users'] })).toBe(6);
  });
  it('a request without a destination only matches to: 0/0 without a port', () => {
    const c = load('socks pass { from: 0/0 to: 0/0 port = 53 }\nsocks pass { from: 0/0 to: 0/0 }');
    expect(matchSocksRules(c, ctx({ dest: undefined })).rule?.number).toBe(2);
  });
});
