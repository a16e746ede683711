import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '@mptcp-proxy/common';
import { DANTED_ERROR_CODES, loadDantedConfig, parseDantedConfig, type LoadResult } from '../../src/config';

const HEAD = 'logoutput: stderr\ninternal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nsocksmethod: none username\n';
const parse = (text: string): LoadResult => parseDantedConfig(text, 'test.conf');
const withRules = (rules: string): LoadResult => parse(HEAD + rules + '\n');

function parseError(text: string): ConfigError {
  try {
    parse(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('danted.conf settings', () => {
  it('fills Dante defaults', () => {
    const { config, warnings } = parse('internal: 127.0.0.1\nexternal: lo\n');
    expect(config.internal).toEqual([{ kind: 'address', value: '127.0.0.1', port: 1080, file: 'test.conf', line: 1 }]);
    expect(config.external).toEqual([{ kind: 'interface', value: 'lo', file: 'test.conf', line: 2 }]);
    expect(config.timeout).toEqual({ negotiate: 30, ioTcp: 0, ioUdp: 0, connect: 30, tcpFinWait: 0 });
    expect(config.clientMethod).toEqual(['none']);
    expect(config.socksMethod).toEqual([]);
    expect(config.logoutput).toEqual([]);
    expect(config.externalRotation).toBe('none');
    expect(config.ext).toEqual({
      optimistic: true, optimisticExplicit: false, optimisticMethod: 0xa5, optimisticAuthMethod: 0xa6, optimisticMaxEarly: 65536,
      fastOpen: 0, mptcp: 'auto', mptcpExternal: 'off', timeoutNegotiatePool: 300, logFormat: 'text',
      authFailures: { count: 10, seconds: 60 }, syslogIdent: 'socks-server', tls: { internal: [] },
    });
    expect(warnings.map((w) => w.message)).toContainEqual(expect.stringContaining('no socks authentication methods enabled'));
  });

  it('parses a full server section', () => {
    const { config } = parse(
      [
        'logoutput: stderr stdout syslog syslog/local3 /var/log/sockd.log',
        'errorlog: syslog/auth',
        'debug: 2',
        'internal.protocol: ipv6 ipv4',
        'internal: 127.0.0.1 port = 1080',
        'internal: ::1 port=1081',
        'internal: lo port = http',
        'external: 127.0.0.1',
        'external.rotation: same-same',
        'external: ::1',
        'socksmethod: username none',
        'clientmethod: none',
        'user.privileged: root',
        'user.unprivileged: nobody',
        'timeout.negotiate: 15',
        'timeout.io: 0x10',
        'timeout.io.udp: 010',
        'timeout.connect: 5',
        'timeout.tcp_fin_wait: 7',
        'udp.connectdst: no',
        'compatibility: sameport',
      ].join('\n'),
    );
    expect(config.logoutput).toEqual([
      { kind: 'stderr' }, { kind: 'stdout' }, { kind: 'syslog', facility: 'daemon' },
      { kind: 'syslog', facility: 'local3' }, { kind: 'file', path: '/var/log/sockd.log' },
    ]);
    expect(config.errorlog).toEqual([{ kind: 'syslog', facility: 'auth' }]);
    expect(config.debug).toBe(2);
    expect(config.internalProtocol).toEqual(['ipv6', 'ipv4']);
    expect(config.internal.map((i) => [i.kind, i.value, i.port])).toEqual([
      ['address', '127.0.0.1', 1080], ['address', '::1', 1081], ['interface', 'lo', 80],
    ]);
    expect(config.external.map((e) => e.value)).toEqual(['127.0.0.1', '::1']);
    expect(config.externalRotation).toBe('same-same');
    expect(config.socksMethod).toEqual(['username', 'none']);
    expect(config.user).toEqual({ privileged: 'root', unprivileged: 'nobody' });
    expect(config.timeout).toEqual({ negotiate: 15, ioTcp: 16, ioUdp: 8, connect: 5, tcpFinWait: 7 });
    expect(config.udpConnectDst).toBe(false);
    expect(config.compatibility).toEqual(['sameport']);
  });

  it('accepts Dante 1.2 names the way danted 1.4.2 does', () => {
    const { config, warnings } = parse(
      'internal: 127.0.0.1\nexternal: lo\nmethod: none\nuser.notprivileged: nobody\nconnecttimeout: 9\niotimeout: 8\nlocaldomain: x.org\n',
    );
    expect(config.socksMethod).toEqual(['none']);
    expect(config.user.unprivileged).toBe('nobody');
    expect(config.timeout.connect).toBe(9);
    expect(config.timeout.ioTcp).toBe(8);
    const texts = warnings.map((w) => `${w.line}: ${w.message}`);
    expect(texts).toContainEqual(expect.stringContaining('3: keyword "method" is deprecated - assuming the new keyword "socksmethod"'));
    expect(texts).toContainEqual(expect.stringContaining('5: keyword "connecttimeout" is deprecated'));
    expect(texts).toContainEqual(expect.stringContaining('7: keyword "localdomain: x.org" is deprecated and no longer used'));
    expect(texts.join('\n')).toContain("Dante's config file (test.conf)");
  });

  it('warns about an unknown syslog facility and keeps it', () => {
    const { config, warnings } = parse('logoutput: syslog/foo\ninternal: 127.0.0.1\nexternal: lo\nsocksmethod: none\n');
    expect(config.logoutput).toEqual([{ kind: 'syslog', facility: 'foo' }]);
    expect(warnings[0]).toMatchObject({ line: 1, token: 'syslog/foo', message: 'unknown syslog facility "foo"' });
  });

  it('parses our extension keywords', () => {
    const { config } = parse(
      [
        'internal: 127.0.0.1', 'external: lo', 'socksmethod: none',
        'extension.optimistic: yes', 'extension.optimistic.method: 0xa7', 'extension.optimistic.authmethod: 0xa8',
        'extension.optimistic.maxearly: 4096', 'extension.fastopen: 256', 'extension.mptcp: on',
        'extension.mptcp.external: auto', 'extension.timeout.negotiate.pool: 600', 'extension.logformat: json',
        'extension.passwordfile: /etc/socks-server/passwd', 'extension.auth.failures: 5/30',
        'extension.metrics: 127.0.0.1 port = 9102', 'extension.syslog.ident: danted',
        'socks pass { from: 0/0 to: 0/0 optimistic: no }',
      ].join('\n'),
    );
    expect(config.ext).toEqual({
      optimistic: true, optimisticExplicit: true, optimisticMethod: 0xa7, optimisticAuthMethod: 0xa8, optimisticMaxEarly: 4096,
      fastOpen: 256, mptcp: 'on', mptcpExternal: 'auto', timeoutNegotiatePool: 600, logFormat: 'json',
      passwordFile: '/etc/socks-server/passwd', authFailures: { count: 5, seconds: 30 },
      metrics: { host: '127.0.0.1', port: 9102, line: 15 }, syslogIdent: 'danted', tls: { internal: [] },
    });
    expect(config.socksRules[0].optimistic).toBe(false);
  });

  it.each([
    ['extension.mptcp: maybe', 'maybe', 'syntax error'],
    ['extension.optimistic: 1', '1', 'syntax error'],
    ['extension.optimistic.method: 0x05', '0x05', 'private SOCKS5 method must be 0x80 - 0xfe, not 5'],
    ['extension.logformat: xml', 'xml', 'syntax error'],
    ['extension.metrics: localhost port = 9102', 'localhost', 'extension.metrics wants an IP address (127.0.0.1 or ::1 to keep it local), not "localhost"'],
    ['extension.metrics: 127.0.0.1', 'extension.metrics:', 'extension.metrics needs a port: extension.metrics: 127.0.0.1 port = 9102'],
    ['extension.metrics: 127.0.0.1 port > 9102', '>', 'syntax error'],
    ['extension.metrics: 127.0.0.1 port = 70000', '70000', 'number 70000 is too large.  Maximum is 65535'],
    ['extension.syslog.ident: a:b', 'a:b', 'a syslog ident is 1 to 32 letters, digits, ".", "_" or "-" (socks-server, or danted for Dante\'s name)'],
  ])('rejects a bad extension value: %s', (line, token, detail) => {
    const e = parseError(`internal: 127.0.0.1\nexternal: lo\n${line}\n`);
    expect([e.line, e.token, e.detail]).toEqual([3, token, detail]);
  });
});

describe('danted.conf errors name file:line, the token and Dante\'s text', () => {
  it.each([
    ['setting after a rule', `${HEAD}socks pass { from: 0/0 to: 0/0 }\ndebug: 1\n`, 6, 'debug:', 'syntax error', DANTED_ERROR_CODES.syntax],
    ['unknown keyword', `${HEAD}foo: bar\n`, 5, 'foo:', 'syntax error', DANTED_ERROR_CODES.syntax],
    ['unknown rule keyword', `${HEAD}socks pass { from: 0/0 to: 0/0 foo: bar }\n`, 5, 'foo:', 'syntax error', DANTED_ERROR_CODES.syntax],
    ['missing netmask', `${HEAD}client pass { from: 10.0.0.1 to: 0/0 }\n`, 5, '10.0.0.1', 'No netmask has been specified for this IPv4 address', DANTED_ERROR_CODES.value],
    ['dotted netmask', `${HEAD}client pass { from: 10.0.0.0/255.0.0.0 to: 0/0 }\n`, 5, '10.0.0.0/255.0.0.0', 'bad IPv4 address netmask: 255.  Legal range is 0 - 32', DANTED_ERROR_CODES.value],
    ['IPv6 netmask too long', `${HEAD}socks pass { from: 0/0 to: 2001:db8::/129 }\n`, 5, '2001:db8::/129', 'bad IPv6 address netmask: 129.  Legal range is 0 - 128', DANTED_ERROR_CODES.value],
    ['0/8', `${HEAD}socks pass { from: 0/8 to: 0/0 }\n`, 5, '0/8', 'bad <IPvAny> address netmask: 8.  Only legal value is 0', DANTED_ERROR_CODES.value],
    ['unterminated block', `${HEAD}socks pass {\n from: 0/0 to: 0/0\n`, 7, 'end of file', 'syntax error: missing "}" for the rule opened on line 5', DANTED_ERROR_CODES.syntax],
    ['from without to', `${HEAD}socks pass { from: 0/0 }\n`, 5, '}', 'syntax error', DANTED_ERROR_CODES.syntax],
    ['empty rule', `${HEAD}socks pass { }\n`, 5, '}', 'syntax error', DANTED_ERROR_CODES.syntax],
    ['two rules on one line', `${HEAD}client pass { from: 0/0 to: 0/0 } client pass { from: 0/0 to: 0/0 }\n`, 5, 'client', 'syntax error', DANTED_ERROR_CODES.syntax],
    ['protocol after address', 'internal: 127.0.0.1\ninternal.protocol: ipv4\n', 2, 'internal.protocol:', 'protocols and address-families on the internal/client-side interface must be specified before addresses', DANTED_ERROR_CODES.value],
    ['netmask on internal', 'internal: 127.0.0.1/8\n', 1, '127.0.0.1/8', 'A netmask has been specified for this IPv4 address, but no netmask should be specified in this context', DANTED_ERROR_CODES.value],
    ['internal port 0', 'internal: 127.0.0.1 port = 0\n', 1, '0', 'addinternal(): address 127.0.0.1.0 does not specify a portnumber to bind', DANTED_ERROR_CODES.value],
    ['internal port without operator', 'internal: 127.0.0.1 port 1080\n', 1, '1080', 'syntax error', DANTED_ERROR_CODES.syntax],
    ['unresolvable internal', 'internal: no-such-host.invalid port = 1080\n', 1, 'no-such-host.invalid', 'could not resolve hostname "no-such-host.invalid": Name or service not known', DANTED_ERROR_CODES.system],
    ['unknown user', 'internal: 127.0.0.1\nuser.privileged: no-such-user-x\n', 2, 'no-such-user-x', 'getpwnam(3) says no such user "no-such-user-x"', DANTED_ERROR_CODES.system],
    ['username as clientmethod', 'clientmethod: username\n', 1, 'username', 'method username (2) is not a valid method for clientmethods', DANTED_ERROR_CODES.value],
    ['gssapi', 'socksmethod: gssapi\n', 1, 'gssapi', 'in order to set the given keyword/value, Dante must be linked with an external GSSAPI library', DANTED_ERROR_CODES.unsupported],
    ['hostid', `${HEAD}hostid pass { from: 0/0 to: 0/0 }\n`, 5, 'hostid', 'hostid is not supported on this system', DANTED_ERROR_CODES.unsupported],
    ['bandwidth', `${HEAD}socks pass { from: 0/0 to: 0/0 bandwidth: 1000 }\n`, 5, '1000', 'license error: module "bandwidth" is not installed', DANTED_ERROR_CODES.unsupported],
    ['redirect', `${HEAD}socks pass { from: 0/0 to: 0/0\nredirect from: 10.0.0.1/32 }\n`, 6, 'redirect', 'license error: module "redirect" is not installed', DANTED_ERROR_CODES.unsupported],
    ['libwrap', `${HEAD}socks pass { from: 0/0 to: 0/0\nlibwrap: allow\n}\n`, 6, 'libwrap:', 'bad libwrap line', DANTED_ERROR_CODES.unsupported],
    ['rule method not global', `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\nsocksmethod: rfc931\n}\n`, 8, '}', 'method "rfc931" is set in the rule, but not in the global socksmethod specification (containing "none, username\')', DANTED_ERROR_CODES.check],
    ['client user: with clientmethod none', `${HEAD}client pass {\nfrom: 0/0 to: 0/0\nuser: root\n}\n`, 8, '}', 'the settings in this client-rule requires the client to provide a user/group-name', DANTED_ERROR_CODES.check],
    ['command in client rule', `${HEAD}client pass {\nfrom: 0/0 to: 0/0\ncommand: connect\n}\n`, 7, 'command:', 'syntax error', DANTED_ERROR_CODES.syntax],
    ['state.throttle without key', `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\nsession.state.throttle: 3/1\n}\n`, 8, '}', 'session.state.throttle is set, but session.state.key is not', DANTED_ERROR_CODES.check],
    ['udp.portrange reversed', `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\nudp.portrange: 10-5\n}\n`, 7, '10-5', 'end port (5) can not be less than start port (10)', DANTED_ERROR_CODES.value],
    ['negative number', `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\nsession.max: -1\n}\n`, 7, '-1', 'syntax error', DANTED_ERROR_CODES.syntax],
    ['session.state.key alone', `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\nsession.state.key: from\n}\n`, 8, '}', 'session state key is set (1), but no value has been given to state.max or state.throttle', DANTED_ERROR_CODES.check],
    ['session.state.max without key', `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\nsession.state.max: 3\n}\n`, 8, '}', 'state.session.max is set, but session.state.key is not', DANTED_ERROR_CODES.check],
    ['external socket option in a block rule', `${HEAD}socks block {\nfrom: 0/0 to: 0/0\nexternal.tcp.tcp_nodelay: 1\n}\n`, 7, '1', 'it does not make sense to set a socket option for the external side in a rule that blocks access', DANTED_ERROR_CODES.check],
    ['user: with udpreply', `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\ncommand: udpreply\ngroup: root\n}\n`, 9, '}', 'UDP replies cannot provide any username', DANTED_ERROR_CODES.check],
    ['user: with bindreply', `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\ncommand: bindreply\nuser: alice\n}\n`, 9, '}', 'the settings in this socks-rule requires the client to provide a user/group-name in some way, but this rule specifies, implicitly or explicitly, the clientmethod "none" to be used for replies', DANTED_ERROR_CODES.check],
    ['user: with an explicit socksmethod none', `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\nuser: alice\nsocksmethod: none\n}\n`, 9, '}', 'the settings in this socks-rule requires the client to provide a user/group-name in some way, but this rule specifies, implicitly or explicitly, the socksmethod none', DANTED_ERROR_CODES.check],
    ['a keyword inside a user: list', `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\nuser: alice log: connect\n}\n`, 7, 'log:', 'syntax error', DANTED_ERROR_CODES.syntax],
    ['user: list swallowing the closing brace', `${HEAD}socks pass {\nfrom: 0/0 to: 0/0\nuser: alice }\n`, 8, 'end of file', 'syntax error: missing "}" for the rule opened on line 5 (the "user:" list on line 7 runs to the end of its line', DANTED_ERROR_CODES.syntax],
    ['only address filtered out by external.protocol', 'internal: 127.0.0.1\nexternal.protocol: ipv6\nexternal: 127.0.0.1\n', 4, undefined, 'checkconfig(): no external address specified', DANTED_ERROR_CODES.check],
    ['no internal', 'external: lo\n', 2, undefined, 'checkconfig(): no internal address given for server to listen for clients on', DANTED_ERROR_CODES.check],
    ['no external', 'internal: 127.0.0.1\n', 2, undefined, 'checkconfig(): no external address specified for server to use when forwarding data on behalf of clients', DANTED_ERROR_CODES.check],
  ])('%s', (_name, text, line, token, detail, code) => {
    const e = parseError(text);
    expect(e.code).toBe(code);
    expect(e.file).toBe('test.conf');
    expect(e.line).toBe(line);
    expect(e.token).toBe(token);
    expect(e.detail.startsWith(detail)).toBe(true);
    // a token on the line gives its column too; end of file and checkconfig() give none
    const at = e.column === undefined ? `test.conf:${line}` : `test.conf:${line}:${e.column}`;
    expect(e.message.startsWith(`${at}: `)).toBe(true);
    expect(e.column !== undefined).toBe(token !== undefined && token !== 'end of file');
  });

  it('names the column of the offending token', () => {
    const e = parseError(`${HEAD}socks pass {\nfrom: 0/0 to: 0/0\n  user: alice   log: connect\n}\n`);
    expect([e.line, e.column, e.token]).toEqual([7, 17, 'log:']);
  });

  it('loadDantedConfig reports an unreadable file', () => {
    expect(() => loadDantedConfig('/nonexistent/danted.conf')).toThrow(
      expect.objectContaining({ code: DANTED_ERROR_CODES.open, file: '/nonexistent/danted.conf' }),
    );
  });

  it('loadDantedConfig reads a file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'danted-'));
    const file = path.join(dir, 'danted.conf');
    fs.writeFileSync(file, HEAD);
    try {
      expect(loadDantedConfig(file).config.file).toBe(file);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('danted.conf rules', () => {
  it('parses from/to address forms', () => {
    const { config } = withRules(
      [
        'client pass { from: 0/0 to: 0.0.0.0/0 }',
        'client pass { from: 10.1.2.3/8 port 1024-65535 to: 127.0.0.1/32 port = 1080 }',
        'socks pass { from: ::/0 to: 2001:db8::/32 }',
        'socks pass { from: 0/0 to: .Example.COM port = 443 }',
        'socks pass { from: 0/0 to: www.example.com. }',
        'socks pass { from: 0/0 to: lo }',
      ].join('\n'),
    );
    expect(config.clientRules.map((r) => [r.from, r.to])).toEqual([
      [{ kind: 'any' }, { kind: 'ipv4', address: '0.0.0.0', prefix: 0 }],
      [
        { kind: 'ipv4', address: '10.1.2.3', prefix: 8, port: { op: 'range', port: 1024, portEnd: 65535 } },
        { kind: 'ipv4', address: '127.0.0.1', prefix: 32, port: { op: 'eq', port: 1080 } },
      ],
    ]);
    expect(config.socksRules.map((r) => r.to)).toEqual([
      { kind: 'ipv6', address: '2001:db8::', prefix: 32 },
      { kind: 'domain', suffix: 'example.com', port: { op: 'eq', port: 443 } },
      { kind: 'hostname', name: 'www.example.com' },
      { kind: 'interface', name: 'lo' },
    ]);
    expect(config.socksRules[0].from).toEqual({ kind: 'ipv6', address: '::', prefix: 0 });
    expect(config.clientRules.map((r) => r.number)).toEqual([1, 2]);
    expect(config.socksRules.map((r) => [r.number, r.line])).toEqual([[1, 7], [2, 8], [3, 9], [4, 10]]);
  });

  it('parses conditions and actions', () => {
    const { config, warnings } = withRules(
      [
        'socks block {',
        '  from: 0/0 to: 0/0 port lt 1024 log: connect',
        '  command: bind connect',
        '  protocol: tcp udp',
        '  proxyprotocol: socks_v5',
        '  socksmethod: username',
        '  user: alice bob',
        '  group: staff',
        '  log: error ioop tcpinfo data disconnect',
        '  session.max: 50',
        '  session.throttle: 10/2',
        '  session.state.key: from',
        '  session.state.max: 3',
        '  session.state.throttle: 4/5',
        '  timeout.io: 600',
        '  timeout.connect: 9',
        '  timeout.negotiate: 8',
        '  timeout.tcp_fin_wait: 7',
        '  udp.portrange: 40000 - 40100',
        '  pam.servicename: sockd',
        '  internal.tcp.tcp_nodelay: 1',
        '}',
      ].join('\n'),
    );
    const r = config.socksRules[0];
    expect(r).toMatchObject({
      type: 'socks', action: 'block', number: 1, line: 5,
      command: ['bind', 'connect'], protocol: ['tcp', 'udp'], proxyProtocol: ['socks_v5'], socksMethod: ['username'],
      user: ['alice', 'bob'], group: ['staff'],
      log: ['connect', 'error', 'iooperation', 'tcpinfo', 'data', 'disconnect'],
      session: { max: 50, throttle: { count: 10, seconds: 2 }, stateKey: 'from', stateMax: 3, stateThrottle: { count: 4, seconds: 5 } },
      timeout: { ioTcp: 600, ioUdp: 600, connect: 9, negotiate: 8, tcpFinWait: 7 },
      udpPortRange: { from: 40000, to: 40100 },
      pamServiceName: 'sockd',
    });
    expect(warnings.map((w) => w.message)).toContain('"internal.tcp.tcp_nodelay" is accepted but ignored by socks-server');
  });

  it('accepts route, monitor and bare pass with warnings', () => {
    const { config, warnings } = withRules(
      [
        'route { from: 0/0 to: 0/0 via: 10.0.0.1 port = 1081', 'proxyprotocol: socks_v5', 'method: none', '}',
        'route { from: 0/0 to: .lan via: direct }',
        'monitor { from: 0/0 to: 0/0 }',
        'pass { from: 0/0 to: 0/0 }',
        'client pass { from: 0/0 to: 0/0', 'method: none', '}',
      ].join('\n'),
    );
    expect(config.routes).toMatchObject([
      { number: 1, via: { kind: 'host', host: '10.0.0.1', port: 1081 }, proxyProtocol: ['socks_v5'], method: ['none'] },
      { number: 2, via: { kind: 'direct' }, to: { kind: 'domain', suffix: 'lan' } },
    ]);
    expect(config.socksRules).toMatchObject([{ action: 'pass', type: 'socks' }]);
    expect(config.clientRules[0].clientMethod).toEqual(['none']);
    const texts = warnings.map((w) => w.message).join('\n');
    expect(texts).toContain('route { } is accepted but ignored');
    expect(texts).toContain('monitor has no alarms configured.  Is this intended?');
    expect(texts).toContain('keyword "pass" is deprecated - assuming the new keyword "socks pass" was meant');
    expect(texts).toContain('keyword "method" is deprecated - assuming the new keyword "clientmethod" was meant');
  });

  it('warns when a rule can never match for want of methods', () => {
    const { warnings } = parse('internal: 127.0.0.1\nexternal: lo\nsocksmethod: none\nsocks pass {\nfrom: 0/0 to: 0/0\nuser: alice\n}\n');
    expect(warnings).toContainEqual(expect.objectContaining({
      line: 7, token: '}',
      message: expect.stringContaining('checkrule(): socks-rule #1 sets no socks authentication methods, not even the method "none"'),
    }));
  });

  it('user:/group: lists run to the end of the line, as in Dante', () => {
    const { config } = withRules('socks pass {\nfrom: 0/0 to: 0/0\nuser: alice, bob }\n}\nsocks pass {\nfrom: 0/0 to: 0/0\ngroup: staff wheel\n}');
    expect(config.socksRules[0].user).toEqual(['alice', 'bob']);
    expect(config.socksRules[1].group).toEqual(['staff', 'wheel']);
  });

  it('drops addresses whose family is not in *.protocol, with a warning', () => {
    const { config, warnings } = parse('internal.protocol: ipv4\ninternal: 127.0.0.1\ninternal: ::1\nexternal: 127.0.0.1\n');
    expect(config.internal.map((i) => i.value)).toEqual(['127.0.0.1']);
    expect(warnings).toContainEqual(expect.objectContaining({ line: 3, message: 'internal address "::1" is ignored: its address family is not in internal.protocol' }));
  });

  it('warns when "none" shadows later global methods', () => {
    const { warnings } = parse('internal: 127.0.0.1\nexternal: lo\nsocksmethod: none username\n');
    expect(warnings.map((w) => w.message)).toContainEqual(expect.stringContaining('no match will ever be attempted on the next method, method "username"'));
  });

  it('a file with zero rules is valid (and blocks everything)', () => {
    const { config } = parse(HEAD);
    expect(config.clientRules).toEqual([]);
    expect(config.socksRules).toEqual([]);
  });

  it('comments, continuations and CRLF inside rules', () => {
    const { config } = withRules('socks pass { # open\r\n from: 0/0 \\\r\n to: 0/0 # done\r\n log: connect\r\n}\r\n');
    expect(config.socksRules[0]).toMatchObject({ line: 5, log: ['connect'] });
  });
});
