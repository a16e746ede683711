import { ConfigError } from '@mptcp-proxy/common';
import {
  checkStartable,
  defaultConnMax,
  effectiveConnMax,
  loadRedsocksConfig,
  parseLogTarget,
  systemResolver,
} from 'redsocks-ts';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { baseSection } from '../helpers/config';
import { BASE, parse, reject, rs } from './helpers';

describe('base section', () => {
  test('defaults', () => {
    const { config } = parse(BASE);
    // baseSection() spells out redsocks' defaults (log_debug/log_info on for other tests)
    expect(config.base).toEqual(baseSection({ logDebug: false, logInfo: false }));
  });

  test('every key', () => {
    const { config } = parse(
      'base { log_debug = on; log_info = yes; log = "file:/var/log/r.log"; daemon = true; user = redsocks; group = "nogroup"; chroot = "/var/empty";\n' +
        ' redirector = generic; tcp_keepalive_time = 60; tcp_keepalive_probes = 3; tcp_keepalive_intvl = "0x0a";\n' +
        ' rlimit_nofile = 8192; redsocks_conn_max = 2000; connpres_idle_timeout = 0; max_accept_backoff = 100; }\n',
    );
    expect(config.base).toMatchObject({
      logDebug: true, logInfo: true, log: 'file:/var/log/r.log', daemon: true, user: 'redsocks', group: 'nogroup',
      chroot: '/var/empty', redirector: 'generic', tcpKeepaliveTime: 60, tcpKeepaliveProbes: 3, tcpKeepaliveIntvl: 10,
      rlimitNofile: 8192, redsocksConnMax: 2000, connpresIdleTimeout: 0, maxAcceptBackoff: 100,
    });
  });

  test('log defaults to syslog:daemon when daemon = on', () => {
    expect(parse('base { redirector = iptables; daemon = on; }\n').config.base.log).toBe('syslog:daemon');
    expect(parse('base { redirector = iptables; daemon = on; log = stderr; }\n').config.base.log).toBe('stderr');
  });

  test.each([
    ['base { }\n', 'no `redirector` set'],
    ['base { redirector = pf; }\n', 'invalid `redirector` set <pf>'],
    ['base { redirector = ""; }\n', 'invalid `redirector` set <>'],
    ['base { redirector = bogus; max_accept_backoff = 0; }\n', '`max_accept_backoff` must be positive, 0 ms is too low'],
    ['base { redirector = iptables; tcp_keepalive_time = 70000; }\n', 'integer out of 16bit range'],
  ])('%j', (text, detail) => {
    const err = reject(text);
    expect(err.detail).toBe(detail);
  });

  test('a missing base passes the parse with a warning, and checkStartable refuses it', () => {
    const r = parse(rs('').replace(BASE, ''));
    expect(r.config.base.present).toBe(false);
    expect(r.warnings.map((w) => w.message)).toEqual(['there is no configured instance of `base`, check config file']);
    expect(() => checkStartable(r.config)).toThrow('there is no configured instance of `base`, check config file');
  });

  test('a bad log target passes the parse (as in redsocks -t) with a warning; checkStartable refuses it', () => {
    const r = parse('base { redirector = iptables; log = "syslog:user"; }\n');
    expect(r.warnings.map((w) => w.message)).toEqual(['log_preopen(syslog:user, ...): unknown syslog facility']);
    expect(() => checkStartable(r.config)).toThrow(ConfigError);
    expect(() => checkStartable(parse(BASE).config)).not.toThrow();
  });
});

describe('log targets', () => {
  test.each([
    ['stderr', { kind: 'stderr' }],
    ['file:/tmp/x.log', { kind: 'file', path: '/tmp/x.log' }],
    ['syslog:daemon', { kind: 'syslog', facility: 'daemon' }],
    ['syslog:local7', { kind: 'syslog', facility: 'local7' }],
  ])('%s', (spec, target) => expect(parseLogTarget(spec)).toEqual(target));

  test.each([
    ['syslog:auth', 'log_preopen(syslog:auth, ...): unknown syslog facility'],
    ['syslog:LOCAL0', 'log_preopen(syslog:LOCAL0, ...): unknown syslog facility'],
    ['bogus', 'log_preopen(bogus, ...): unknown destination'],
    ['STDERR', 'log_preopen(STDERR, ...): unknown destination'],
    ['file:', 'log_preopen(file:, ...): no file name'],
  ])('%s is refused with redsocks text', (spec, detail) => {
    try {
      parseLogTarget(spec, 'f.conf', 3);
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).detail).toBe(detail);
      expect((err as ConfigError).line).toBe(3);
    }
  });
});

describe('redsocks_conn_max default formula (measured against redsocks 0.5)', () => {
  test.each([
    [1024, false, 384],
    [1024, true, 128],
    [1001, true, 125],
    [1003, false, 376],
    [20000, false, 7500],
    [20000, true, 2500],
    [0, false, 0],
  ])('nofile %i splice %s -> %i', (nofile, splice, max) => {
    expect(defaultConnMax(nofile, splice)).toBe(max);
  });

  test('effective value: explicit wins; otherwise any splicing instance means 6 fds per client', () => {
    expect(effectiveConnMax(parse(rs('splice = off;')).config, 1024)).toBe(384);
    expect(effectiveConnMax(parse(rs('')).config, 1024)).toBe(128);
    expect(effectiveConnMax(parse(`${rs('splice = off;')}redsocks { type = socks4; }\n`).config, 1024)).toBe(128);
    expect(effectiveConnMax(parse(BASE).config, 1024)).toBe(384);
    expect(effectiveConnMax(parse('base { redirector = iptables; redsocks_conn_max = 7; }\n').config, 1024)).toBe(7);
  });
});

describe('redsocks section', () => {
  test('defaults', () => {
    const inst = parse(rs('')).config.redsocks[0]!;
    expect(inst).toMatchObject({
      line: 2, localIp: '127.0.0.1', localPort: 0, ip: '127.0.0.1', port: 0, type: 'socks5', listenq: 4096,
      splice: true, discloseSrc: 'false', onProxyFail: 'close', mptcp: 'auto', optimistic: 'auto',
    });
    expect(inst.login).toBeUndefined();
    expect(inst.password).toBeUndefined();
  });

  test('every 0.5 key', () => {
    const inst = parse(
      rs('local_ip = 0.0.0.0; local_port = 12345; ip = proxy.lan; port = 3128; login = "DOMAIN\\\\u"; password = "p w"; listenq = 128; splice = off; disclose_src = Forwarded_ipport; on_proxy_fail = forward_http_err;', 'http-connect'),
    ).config.redsocks[0]!;
    expect(inst).toMatchObject({
      localIp: '0.0.0.0', localPort: 12345, ip: '10.9.9.9', port: 3128, type: 'http-connect', login: 'DOMAIN\\u',
      password: 'p w', listenq: 128, splice: false, discloseSrc: 'Forwarded_ipport', onProxyFail: 'forward_http_err',
    });
  });

  test.each([['off'], ['no'], ['false']])('disclose_src = %s means false', (v) => {
    expect(parse(rs(`disclose_src = ${v};`, 'http-connect')).config.redsocks[0]!.discloseSrc).toBe('false');
  });

  test.each([
    [rs(''), undefined],
    [`${BASE}redsocks { port = 1; }\n`, 'no `type` for redsocks'],
    [rs('', 'SOCKS5'), 'invalid `type` <SOCKS5> for redsocks'],
    [rs('', 'socks4a'), 'invalid `type` <socks4a> for redsocks'],
    [rs('disclose_src = X-Forwarded-For;'), 'only `http-connect` supports `disclose_src` at the moment'],
    [rs('disclose_src = X-Forwarded-For;', 'http-relay'), 'only `http-connect` supports `disclose_src` at the moment'],
    [rs('disclose_src = true;', 'http-connect'), 'disclose_src <true> is not parsed'],
    [rs('disclose_src = x-forwarded-for;', 'http-connect'), 'disclose_src <x-forwarded-for> is not parsed'],
    [rs('on_proxy_fail = forward_http_err;'), 'only `http-connect` supports `on_proxy_fail` at the moment'],
    [rs('on_proxy_fail = retry;', 'http-connect'), 'on_proxy_fail <retry> is not parsed'],
    [rs('ip = nowhere.invalid;'), 'unable to resolve nowhere.invalid, getaddrinfo error -2 (Name or service not known)'],
    [rs('local_port = 65536;'), 'integer out of 16bit range'],
  ])('validation %#', (text, detail) => {
    if (detail === undefined) expect(parse(text).config.redsocks).toHaveLength(1);
    else expect(reject(text).detail).toBe(detail);
  });

  test('a section error is reported with `section->onexit failed` at the closing brace', () => {
    const err = reject(`${BASE}redsocks {\n port = 1;\n}\n`);
    expect(err.lines).toEqual([
      { line: 4, message: 'no `type` for redsocks' },
      { line: 4, message: 'section->onexit failed' },
    ]);
  });

  test('a host name with several addresses: first one, with redsocks warning', () => {
    const r = parse(rs('ip = multi.lan;'));
    expect(r.config.redsocks[0]!.ip).toBe('10.9.9.1');
    expect(r.warnings.map((w) => w.message)).toEqual(['multi.lan resolves to 3 addresses, using 10.9.9.1']);
  });

  test('credential checks give redsocks start-time warnings, not errors', () => {
    const one = parse(rs('login = u;'));
    expect(one.warnings.map((w) => w.message)).toEqual(['Socks5 needs either both login and password or none of them']);
    expect(one.config.redsocks[0]!.login).toBeUndefined();

    const long = parse(rs(`login = u; password = "${'x'.repeat(256)}";`));
    expect(long.warnings[0]!.message).toMatch(/^Socks5 password can't be more than 255 chars/);
    expect(long.config.redsocks[0]!.password).toBeUndefined();

    const s4 = parse(rs('login = u; password = p;', 'socks4'));
    expect(s4.warnings.map((w) => w.message)).toEqual(['password <p> is ignored for socks4 connections']);
    expect(s4.config.redsocks[0]!.login).toBe('u');

    expect(parse(rs('login = u;', 'socks4')).warnings).toEqual([]);
    expect(parse(rs('', 'http-relay')).warnings.map((w) => w.message)).toEqual(['You should avoid `http-relay`, e.g. due to CVE-2009-0801']);
  });
});

describe('redudp and dnstc', () => {
  test('redudp defaults and keys', () => {
    const { config } = parse(`${BASE}redudp { }\nredudp { local_port = 10053; ip = proxy.lan; port = 1080; login = a; password = b; dest_ip = 8.8.8.8; dest_port = 53; udp_timeout = 10; udp_timeout_stream = 10; }\n`);
    expect(config.redudp[0]).toEqual({
      line: 2, localIp: '127.0.0.1', localPort: 0, ip: '127.0.0.1', port: 0, destIp: '0.0.0.0', destPort: 0, udpTimeout: 30, udpTimeoutStream: 180,
      // extensions: how the association reaches the server
      mptcp: 'auto', paths: [], pathProbeInterval: 1000, pathBackupProbeInterval: 10000, pathProbeTimeout: 1000,
    });
    expect(config.redudp[1]).toMatchObject({ localPort: 10053, ip: '10.9.9.9', port: 1080, login: 'a', password: 'b', destIp: '8.8.8.8', destPort: 53, udpTimeout: 10, udpTimeoutStream: 10 });
  });

  test('redudp checks', () => {
    expect(reject(`${BASE}redudp { udp_timeout = 200; }\n`).detail).toBe('udp_timeout_stream should be not less then udp_timeout');
    expect(reject(`${BASE}redudp { max_pktqueue = 5; }\n`).detail).toBe('assignment with unknown key <max_pktqueue>');
    expect(reject(`${BASE}redudp { type = socks5; }\n`).hint).toContain('SOCKS5 only');
  });

  test('dnstc', () => {
    expect(parse(`${BASE}dnstc { local_port = 5300; }\n`).config.dnstc).toEqual([{ line: 2, localIp: '127.0.0.1', localPort: 5300 }]);
    expect(reject(`${BASE}dnstc { ip = 1.2.3.4; }\n`).detail).toBe('assignment with unknown key <ip>');
  });
});

describe('extension section dns {} and IPv6 addresses', () => {
  test('dns defaults, every key, the dial keys', () => {
    const { config } = parse(`${BASE}dns { resolver_ip = 10.9.0.53; }\ndns { local_ip = 0.0.0.0; local_port = 5353; ip = 10.9.0.1; port = 1081; login = u; password = p; resolver_ip = "fd09::53"; resolver_port = 5353; connections = 3; max_inflight = 8; query_timeout = 2500; cache_size = 0; udp_size = 4096; mptcp = on; paths = "a 10.0.1.2, b 10.0.2.2"; path_probe_interval = 200; path_probe_timeout = 300; }\n`);
    expect(config.dns[0]).toEqual({
      line: 2, localIp: '127.0.0.1', localPort: 53, ip: '127.0.0.1', port: 1080, resolverIp: '10.9.0.53', resolverPort: 53,
      connections: 2, maxInflight: 64, queryTimeout: 4000, cacheSize: 10000, udpSize: 1232,
      mptcp: 'auto', paths: [], pathProbeInterval: 1000, pathBackupProbeInterval: 10000, pathProbeTimeout: 1000,
    });
    expect(config.dns[1]).toMatchObject({
      line: 3, localIp: '0.0.0.0', localPort: 5353, ip: '10.9.0.1', port: 1081, login: 'u', password: 'p', resolverIp: 'fd09::53', resolverPort: 5353,
      connections: 3, maxInflight: 8, queryTimeout: 2500, cacheSize: 0, udpSize: 4096, mptcp: 'on', pathProbeInterval: 200, pathProbeTimeout: 300,
    });
    expect(config.dns[1]!.paths.map((p) => p.name)).toEqual(['a', 'b']);
  });

  test('dns checks name file:line', () => {
    expect(reject(`${BASE}dns { }\n`).detail).toBe('no `resolver_ip` for dns');
    expect(reject(`${BASE}dns { resolver_ip = 1.1.1.1; port = 0; }\n`).detail).toBe("no `port` for dns (the SOCKS5 server's)");
    expect(reject(`${BASE}dns { resolver_ip = 1.1.1.1; udp_size = 100; }\n`).detail).toBe('udp_size <100> is below 512, the size every DNS client accepts');
    expect(reject(`${BASE}dns { resolver_ip = 1.1.1.1; login = u; }\n`).detail).toBe('dns needs either both login and password or none of them');
    const e = reject(`${BASE}dns {\n resolver_ip = 1.1.1.1;\n connections = 0;\n}\n`);
    expect([e.line, e.detail]).toEqual([4, '`connections` must be positive']);
    expect(reject(`${BASE}dns { resolver_ip = 1.1.1.1; fastopen = on; }\n`).detail).toBe('assignment with unknown key <fastopen>');
  });

  test('IPv6 literals in local_ip / ip / dest_ip (an extension: redsocks 0.5 has no IPv6)', () => {
    const { config } = parse(`${BASE}redsocks { local_ip = "::"; ip = "FD09:0:0::1"; type = socks5; }\nredudp { local_ip = "::"; ip = "fd09::1"; dest_ip = "2001:db8::53"; dest_port = 53; }\ndnstc { local_ip = "::1"; }\n`);
    expect(config.redsocks[0]).toMatchObject({ localIp: '::', ip: 'fd09::1' });
    expect(config.redudp[0]).toMatchObject({ localIp: '::', ip: 'fd09::1', destIp: '2001:db8::53' });
    expect(config.dnstc[0]).toMatchObject({ localIp: '::1' });
    // a zone id or brackets are not addresses here
    expect(reject(`${BASE}redsocks { ip = "fe80::1%eth0"; type = socks5; }\n`).detail).toMatch(/unable to resolve fe80::1%eth0/);
    expect(reject(`${BASE}redsocks { ip = "[::1]"; type = socks5; }\n`).detail).toMatch(/unable to resolve \[::1\]/);
  });
});

describe('files and the system resolver', () => {
  test('loadRedsocksConfig reads a file; a missing file is a ConfigError', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-conf-'));
    try {
      const file = path.join(dir, 'r.conf');
      fs.writeFileSync(file, rs('ip = localhost;'));
      const r = loadRedsocksConfig(file);
      expect(r.config.file).toBe(file);
      expect(r.config.redsocks[0]!.ip).toBe('127.0.0.1');
      expect(() => loadRedsocksConfig(path.join(dir, 'missing.conf'))).toThrow(ConfigError);
      expect(() => loadRedsocksConfig(path.join(dir, 'missing.conf'))).toThrow('Unable to open config file: No such file or directory');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('systemResolver answers like getaddrinfo(AF_INET)', () => {
    expect(systemResolver('localhost')).toEqual({ addresses: ['127.0.0.1'] });
    expect(systemResolver('::1')).toEqual({ error: 'getaddrinfo error -9 (Address family for hostname not supported)' });
    expect(systemResolver('no-such-host.invalid')).toEqual({ error: 'getaddrinfo error -2 (Name or service not known)' });
    expect(systemResolver('')).toEqual({ error: 'getaddrinfo error -2 (Name or service not known)' });
  });
});
