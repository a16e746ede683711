import { EXTENSION_DEFAULTS, parseWanPaths } from 'redsocks-ts';
import { parse, reject, rs } from './helpers';

describe('extension keys in redsocks { }', () => {
  test('defaults', () => {
    const inst = parse(rs('')).config.redsocks[0]!;
    expect(inst).toMatchObject({
      extensions: true,
      mptcp: 'auto',
      optimistic: 'auto',
      optimisticMaxEarly: 65536,
      optimisticGatherMs: 5,
      optimisticMethod: 0xa5,
      optimisticAuthMethod: 0xa6,
      optimisticCacheTtl: 86400,
      fastopen: false,
      fastopenDataPorts: [],
      poolSize: 'auto',
      poolIdleTimeout: 20,
      paths: [],
      pathProbeInterval: 1000,
      pathProbeTimeout: 1000,
    });
    expect(EXTENSION_DEFAULTS.mptcp).toBe('auto');
  });

  test('extensions = off: redsocks 0.5 on the wire (no MPTCP, sequential SOCKS5, no pool), in any key order', () => {
    const off = parse(rs('extensions = off;')).config.redsocks[0]!;
    expect(off).toMatchObject({ extensions: false, mptcp: 'off', optimistic: 'off', fastopen: false, poolSize: 0, pathsAuto: false });
    expect('explicit' in off).toBe(false);
    // no path probes either, unless the section asks for paths itself
    expect(parse(rs('extensions = off; paths = auto;')).config.redsocks[0]!).toMatchObject({ extensions: false, pathsAuto: true });
    // a key the section sets itself wins, before or after `extensions`
    for (const text of ['pool_size = 3; extensions = off; mptcp = on;', 'mptcp = on; extensions = no; pool_size = 3;']) {
      expect(parse(rs(text)).config.redsocks[0]!).toMatchObject({ extensions: false, mptcp: 'on', optimistic: 'off', poolSize: 3 });
    }
    // one section's opt-out does not touch the next
    const two = parse(`${rs('extensions = off;')}redsocks { type = socks5; }\n`).config.redsocks;
    expect(two[1]).toMatchObject({ extensions: true, mptcp: 'auto', optimistic: 'auto', poolSize: 'auto', pathsAuto: true });
  });

  test('fastopen = on with MPTCP is not used, and says so; with mptcp = off it is', () => {
    const r = parse(rs('fastopen = on;'));
    expect(r.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^fastopen is not used on MPTCP connections \(mptcp = off only\)/)]);
    expect(r.warnings[0]).toMatchObject({ line: 2 });
    expect(parse(rs('fastopen = on; mptcp = off;')).warnings).toEqual([]);
  });

  test('pool_size: auto, 0 or a number', () => {
    expect(parse(rs('pool_size = auto;')).config.redsocks[0]!.poolSize).toBe('auto');
    expect(parse(rs('pool_size = 0;')).config.redsocks[0]!.poolSize).toBe(0);
    expect(parse(rs('pool_size = 6;')).config.redsocks[0]!.poolSize).toBe(6);
  });

  test('instances do not share default arrays', () => {
    const { config } = parse(`${rs('')}redsocks { type = socks5; }\n`);
    expect(config.redsocks[0]!.paths).not.toBe(config.redsocks[1]!.paths);
    expect(config.redsocks[0]!.fastopenDataPorts).not.toBe(config.redsocks[1]!.fastopenDataPorts);
  });

  test('every key, in redsocks spelling and number syntax', () => {
    const inst = parse(
      rs(
        'mptcp = on; optimistic = auto; optimistic_max_early = 131072; optimistic_gather_ms = 10;\n' +
          ' optimistic_method = "0x90"; optimistic_auth_method = 200; optimistic_cache_ttl = 3600;\n' +
          ' fastopen = yes; fastopen_data_ports = "443, 8443 443"; pool_size = 4; pool_idle_timeout = 15;\n' +
          ' paths = "wan1 10.1.1.1 dev eth1 mark 0x10, wan2 10.1.2.1 dev eth2 backup"; path_probe_interval = 500; path_probe_timeout = 300;',
      ),
    ).config.redsocks[0]!;
    expect(inst).toMatchObject({
      mptcp: 'on', optimistic: 'auto', optimisticMaxEarly: 131072, optimisticGatherMs: 10, optimisticMethod: 0x90,
      optimisticAuthMethod: 200, optimisticCacheTtl: 3600, fastopen: true, fastopenDataPorts: [443, 8443], poolSize: 4,
      poolIdleTimeout: 15, pathProbeInterval: 500, pathProbeTimeout: 300,
      paths: [
        { name: 'wan1', source: '10.1.1.1', device: 'eth1', mark: 16, backup: false },
        { name: 'wan2', source: '10.1.2.1', device: 'eth2', backup: true },
      ],
    });
  });

  test('mode keys take auto and redsocks booleans', () => {
    expect(parse(rs('mptcp = off;')).config.redsocks[0]!.mptcp).toBe('off');
    expect(parse(rs('mptcp = true;')).config.redsocks[0]!.mptcp).toBe('on');
    expect(parse(rs('mptcp = no;')).config.redsocks[0]!.mptcp).toBe('off');
    expect(parse(rs('fastopen_data_ports = 443;')).config.redsocks[0]!.fastopenDataPorts).toEqual([443]);
  });

  test.each([
    [rs('mptcp = maybe;'), 'mptcp <maybe> is not parsed, use auto, on or off'],
    [rs('optimistic = ON;'), 'optimistic <ON> is not parsed, use auto, on or off'],
    [rs('optimistic = on;', 'socks4'), '`optimistic = on` needs `type = socks5`'],
    [rs('optimistic_method = 5;'), 'optimistic_method <5> must be a private SOCKS5 method number, 0x80 to 0xfe'],
    [rs('optimistic_auth_method = "0xff";'), 'optimistic_auth_method <0xff> must be a private SOCKS5 method number, 0x80 to 0xfe'],
    [rs('optimistic_auth_method = "0xa5";'), '`optimistic_method` and `optimistic_auth_method` must differ'],
    [rs('fastopen = maybe;'), 'boolean is not parsed'],
    [rs('fastopen_data_ports = "443,0";'), 'port <0> in fastopen_data_ports is not a port number'],
    [rs('fastopen_data_ports = "443,x";'), 'integer is not parsed'],
    [rs('fastopen_data_ports = "70000";'), 'integer out of 16bit range'],
    [rs('pool_idle_timeout = 0;'), '`pool_idle_timeout` must be positive'],
    [rs('pool_size = big;'), 'integer is not parsed'],
    [rs('extensions = auto;'), 'boolean is not parsed'],
    [rs('path_probe_interval = 0;'), '`path_probe_interval` must be positive'],
    [rs('paths = "wan1";'), 'path <wan1> needs a name and a source address'],
    [rs('paths = "wan1 eth1";'), 'path <wan1>: source <eth1> is not an IP address'],
  ])('%j', (text, detail) => {
    const err = reject(text);
    expect(err.detail).toBe(detail);
    expect(err.code).toMatch(/^ECONFIG_(VALUE|SECTION)$/);
  });

  test('extension keys are only known in redsocks { }', () => {
    expect(reject('base { redirector = iptables; mptcp = on; }\n').detail).toBe('assignment with unknown key <mptcp>');
    expect(reject('base { redirector = iptables; }\nredudp { fastopen = on; }\n').detail).toBe('assignment with unknown key <fastopen>');
  });

  test('misspelled extension keys get a hint', () => {
    expect(reject(rs('wan_paths = "x";')).hint).toContain('paths = "NAME SOURCE');
    expect(reject(rs('tcp_fastopen = on;')).hint).toContain('fastopen = on;');
  });
});

describe('paths syntax', () => {
  test('empty string means no paths', () => {
    expect(parseWanPaths('')).toEqual([]);
    expect(parseWanPaths('  ')).toEqual([]);
  });

  test('IPv6 sources, decimal/octal marks, free spacing', () => {
    expect(parseWanPaths(' a  2001:db8::1  mark 010 ,b 192.0.2.1 dev wan0.100')).toEqual([
      { name: 'a', source: '2001:db8::1', mark: 8, backup: false },
      { name: 'b', source: '192.0.2.1', device: 'wan0.100', backup: false },
    ]);
  });

  test.each([
    ['wan1 10.1.1.1, wan1 10.1.2.1', 'path name <wan1> is used twice'],
    ['wan/1 10.1.1.1', 'path name <wan/1> must be 1-32 of [A-Za-z0-9_-]'],
    ['wan1 10.1.1.1 dev', 'path <wan1>: unexpected <dev> (expected dev DEVICE, mark N or backup)'],
    ['wan1 10.1.1.1 mark -1', 'path <wan1>: mark <-1> is not a 32-bit number'],
    ['wan1 10.1.1.1 mark 4294967296', 'path <wan1>: mark <4294967296> is not a 32-bit number'],
    ['wan1 10.1.1.1 dev averyveryverylongname', 'path <wan1>: bad device name <averyveryverylongname>'],
    ['wan1 10.1.1.1 fast', 'path <wan1>: unexpected <fast> (expected dev DEVICE, mark N or backup)'],
    ['wan1 10.1.1.1 backup', 'every path is a backup path; at least one must be active'],
    ['wan1 10.1.1.1,', 'path <> needs a name and a source address'],
  ])('%j', (value, message) => {
    expect(() => parseWanPaths(value)).toThrow(message);
  });
});
