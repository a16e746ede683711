import {
  ANY_IPV4,
  Atyp,
  Command,
  DEFAULT_OC_AUTH_METHOD,
  DEFAULT_OC_METHOD,
  Method,
  ProtocolError,
  Rep,
  Socks4Rep,
  SocksAddress,
  addressFromHost,
  decodeAddress,
  detectVersion,
  encodeAddress,
  encodeUdpDatagram,
  errnoToRep,
  errnoToSocks4Rep,
  formatAddress,
  parseUdpDatagram,
  peekReplyStatus,
  protocolErrorToRep,
  repText,
  socks4,
  socks4RepText,
  socks5,
} from '@mptcp-proxy/common';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ascii = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

function expectCode(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ProtocolError);
  expect((caught as ProtocolError).code).toBe(code);
}

describe('constants', () => {
  test('numbers', () => {
    expect([Method.NoAuth, Method.Gssapi, Method.UserPass, Method.NoAcceptable]).toEqual([0, 1, 2, 0xff]);
    expect([DEFAULT_OC_METHOD, DEFAULT_OC_AUTH_METHOD]).toEqual([0xa5, 0xa6]);
    expect([Command.Connect, Command.Bind, Command.UdpAssociate]).toEqual([1, 2, 3]);
    expect([Atyp.IPv4, Atyp.Domain, Atyp.IPv6]).toEqual([1, 3, 4]);
    expect([Rep.Succeeded, Rep.ConnRefused, Rep.AtypNotSupported, Rep.Timeout]).toEqual([0, 5, 8, 9]);
    expect([Socks4Rep.Granted, Socks4Rep.Rejected, Socks4Rep.IdentUnreachable, Socks4Rep.IdentMismatch]).toEqual([90, 91, 92, 93]);
  });
  test('redsocks status texts', () => {
    expect(repText(0)).toBe('ok');
    expect(repText(1)).toBe('server failure');
    expect(repText(2)).toBe('connection not allowed by ruleset');
    expect(repText(3)).toBe('network unreachable');
    expect(repText(4)).toBe('host unreachable');
    expect(repText(5)).toBe('connection refused');
    expect(repText(6)).toBe('TTL expired');
    expect(repText(7)).toBe('command not supported');
    expect(repText(8)).toBe('address type not supported');
    expect(repText(9)).toBe('connection attempt timed out');
    expect(repText(200)).toBe('');
    expect(socks4RepText(91)).toBe('fail');
    expect(socks4RepText(92)).toBe('no ident');
    expect(socks4RepText(93)).toBe('fake ident');
  });
});

describe('address', () => {
  test('addressFromHost detects literals', () => {
    expect(addressFromHost('10.1.2.3', 80)).toEqual({ type: 'ipv4', host: '10.1.2.3', port: 80 });
    expect(addressFromHost('[2001:DB8:0:0:0:0:0:1]', 443)).toEqual({ type: 'ipv6', host: '2001:db8::1', port: 443 });
    expect(addressFromHost('example.com', 1)).toEqual({ type: 'domain', host: 'example.com', port: 1 });
  });
  test('IPv6 text forms round trip canonically', () => {
    const cases: Array<[string, string]> = [
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0db8:0000:0000:0000:ff00:0042:8329', '2001:db8::ff00:42:8329'],
      ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
      ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
      ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
      ['fe80::1:2', 'fe80::1:2'],
    ];
    for (const [input, canon] of cases) {
      const a = addressFromHost(input, 9);
      expect(a.host).toBe(canon);
      const back = decodeAddress(encodeAddress(a));
      expect(back?.address.host).toBe(canon);
    }
    expect(encodeAddress(addressFromHost('2001:db8::ff00:42:8329', 0x1bb))).toEqual(
      hex('04 20010db8000000000000ff0000428329 01bb'),
    );
  });
  test('formatAddress', () => {
    expect(formatAddress({ type: 'ipv6', host: '::1', port: 80 })).toBe('[::1]:80');
    expect(formatAddress({ type: 'ipv4', host: '1.2.3.4', port: 5 })).toBe('1.2.3.4:5');
  });
  test('bad inputs', () => {
    expectCode(() => encodeAddress({ type: 'ipv4', host: '1.2.3.4', port: 70000 }), 'ESOCKS_PORT');
    expectCode(() => encodeAddress({ type: 'ipv4', host: 'nope', port: 1 }), 'ESOCKS_ADDRESS');
    expectCode(() => encodeAddress({ type: 'domain', host: 'a'.repeat(256), port: 1 }), 'ESOCKS_DOMAIN');
    expectCode(() => encodeAddress({ type: 'domain', host: '', port: 1 }), 'ESOCKS_DOMAIN');
    expectCode(() => decodeAddress(hex('02 00')), 'ESOCKS_ATYP');
    expectCode(() => decodeAddress(hex('03 00 00 50')), 'ESOCKS_DOMAIN');
  });
});

describe('SOCKS5 literal bytes', () => {
  test('greeting: RFC 1928 no-auth and redsocks with login', () => {
    expect(socks5.encodeGreeting([0])).toEqual(hex('050100'));
    expect(socks5.encodeGreeting([0, 2])).toEqual(hex('05020002'));
    expect(socks5.parseGreeting(hex('05020002'))).toEqual({ methods: [0, 2], length: 4 });
    expect(socks5.parseGreeting(hex('0502a600ff'))).toEqual({ methods: [0xa6, 0], length: 4 });
    // NMETHODS is unsigned (shadowsocks-libev PR #1485)
    const many = Buffer.concat([hex('05ff'), Buffer.alloc(255, 7)]);
    expect(socks5.parseGreeting(many)?.methods.length).toBe(255);
  });
  test('method selection', () => {
    expect(socks5.encodeMethodSelection(Method.NoAcceptable)).toEqual(hex('05ff'));
    expect(socks5.parseMethodSelection(hex('0502'))).toEqual({ method: 2, length: 2 });
  });
  test('RFC 1929', () => {
    const bytes = hex(`01 04 ${ascii('user')} 06 ${ascii('secret')}`);
    expect(socks5.encodeUserPassRequest('user', 'secret')).toEqual(bytes);
    expect(socks5.parseUserPassRequest(bytes)).toEqual({
      username: Buffer.from('user'),
      password: Buffer.from('secret'),
      length: 13,
    });
    expect(socks5.parseUserPassRequest(hex('0101610000'))).toEqual({ username: Buffer.from('a'), password: Buffer.alloc(0), length: 4 });
    expect(socks5.encodeUserPassReply(0)).toEqual(hex('0100'));
    expect(socks5.parseUserPassReply(hex('0101'))).toEqual({ status: 1, length: 2 });
    expectCode(() => socks5.encodeUserPassRequest('u'.repeat(256), 'p'), 'ESOCKS_AUTH_LENGTH');
    expectCode(() => socks5.encodeUserPassRequest('u', Buffer.alloc(256)), 'ESOCKS_AUTH_LENGTH');
  });
  test('requests: redsocks IPv4 CONNECT, domain, IPv6', () => {
    const v4 = hex('05 01 00 01 7f000001 0050');
    expect(socks5.encodeRequest(Command.Connect, { type: 'ipv4', host: '127.0.0.1', port: 80 })).toEqual(v4);
    expect(socks5.parseRequest(v4)).toEqual({ command: 1, address: { type: 'ipv4', host: '127.0.0.1', port: 80 }, length: 10 });
    const dom = hex(`05 01 00 03 0b ${ascii('example.com')} 01bb`);
    expect(socks5.encodeRequest(1, { type: 'domain', host: 'example.com', port: 443 })).toEqual(dom);
    expect(socks5.parseRequest(dom)?.length).toBe(7 + 11);
    const v6 = hex('05 03 00 04 00000000000000000000000000000001 1f90');
    expect(socks5.parseRequest(v6)).toEqual({ command: 3, address: { type: 'ipv6', host: '::1', port: 8080 }, length: 22 });
    expect(socks5.encodeRequest(3, { type: 'ipv6', host: '::1', port: 8080 })).toEqual(v6);
  });
  test('unknown command parses (server answers 07); unknown ATYP throws ESOCKS_ATYP', () => {
    expect(socks5.parseRequest(hex('05 09 00 01 01020304 0001'))?.command).toBe(9);
    expectCode(() => socks5.parseRequest(hex('05 01 00 05')), 'ESOCKS_ATYP');
    expect(protocolErrorToRep('ESOCKS_ATYP')).toBe(8);
    expect(protocolErrorToRep('ESOCKS_VERSION')).toBe(1);
  });
  test('replies are always full; default BND 0.0.0.0:0', () => {
    expect(socks5.encodeReply(Rep.ConnRefused)).toEqual(hex('05 05 00 01 00000000 0000'));
    expect(socks5.encodeReply(0, ANY_IPV4)).toEqual(hex('05 00 00 01 00000000 0000'));
    expect(socks5.parseReply(hex('05 00 00 01 c0000201 1388 ff'))).toEqual({
      rep: 0,
      address: { type: 'ipv4', host: '192.0.2.1', port: 5000 },
      length: 10,
    });
    expect(peekReplyStatus(hex('05'))).toBeNull();
    expect(peekReplyStatus(hex('0504'))).toBe(4);
  });
  test('detectVersion', () => {
    expect(detectVersion(Buffer.alloc(0))).toBeNull();
    expect(detectVersion(hex('05'))).toBe(5);
    expect(detectVersion(hex('04'))).toBe(4);
    expectCode(() => detectVersion(hex('47')), 'ESOCKS_VERSION');
  });
  test('round trips for every address type and command', () => {
    const addrs: SocksAddress[] = [
      { type: 'ipv4', host: '255.254.0.1', port: 65535 },
      { type: 'ipv6', host: '2001:db8::7', port: 0 },
      { type: 'domain', host: 'x'.repeat(255), port: 1 },
    ];
    for (const address of addrs) {
      for (const command of [1, 2, 3, 0x42]) {
        const b = socks5.encodeRequest(command, address);
        expect(socks5.parseRequest(b)).toEqual({ command, address, length: b.length });
      }
      for (const rep of [0, 1, 5, 8, 9]) {
        const b = socks5.encodeReply(rep, address);
        expect(socks5.parseReply(b)).toEqual({ rep, address, length: b.length });
      }
    }
  });
});

describe('SOCKS5 malformed input', () => {
  test('version checks', () => {
    expectCode(() => socks5.parseGreeting(hex('04')), 'ESOCKS_VERSION');
    expectCode(() => socks5.parseMethodSelection(hex('0400')), 'ESOCKS_VERSION');
    expectCode(() => socks5.parseRequest(hex('0401')), 'ESOCKS_VERSION');
    expectCode(() => socks5.parseReply(hex('00')), 'ESOCKS_VERSION');
    expectCode(() => socks5.parseUserPassRequest(hex('05')), 'ESOCKS_AUTH_VERSION');
    expectCode(() => socks5.parseUserPassReply(hex('0500')), 'ESOCKS_AUTH_VERSION');
  });
  test('greeting without methods', () => {
    expectCode(() => socks5.parseGreeting(hex('0500')), 'ESOCKS_METHODS');
    expectCode(() => socks5.encodeGreeting([]), 'ESOCKS_METHODS');
    expectCode(() => socks5.encodeGreeting([256]), 'ESOCKS_VALUE');
  });
  test('bad ATYP in a reply, empty domain', () => {
    expectCode(() => socks5.parseReply(hex('05 00 00 00')), 'ESOCKS_ATYP');
    expectCode(() => socks5.parseRequest(hex('05 01 00 03 00')), 'ESOCKS_DOMAIN');
  });
  test('a NUL byte inside a domain name is refused, never truncated (request, UDP header, encoder)', () => {
    // "localhost\0.example.com" would pass a .example.com rule and resolve as localhost.
    const name = Buffer.from('localhost\0.example.com', 'latin1');
    const req = Buffer.concat([hex('05 01 00 03'), Buffer.from([name.length]), name, hex('00 50')]);
    expectCode(() => socks5.parseRequest(req), 'ESOCKS_DOMAIN_NUL');
    expect(socks5.parseRequest(req.subarray(0, req.length - 1))).toBeNull(); // incomplete: still waits
    expectCode(() => parseUdpDatagram(Buffer.concat([hex('00 00 00 03'), Buffer.from([name.length]), name, hex('00 35')])), 'ESOCKS_DOMAIN_NUL');
    expectCode(() => encodeAddress({ type: 'domain', host: 'a\0b', port: 1 }), 'ESOCKS_DOMAIN_NUL');
  });
  test('every strict prefix needs more bytes', () => {
    const msgs: Array<[Buffer, (b: Buffer) => unknown]> = [
      [socks5.encodeGreeting([0, 2, 0xa5]), socks5.parseGreeting],
      [socks5.encodeMethodSelection(2), socks5.parseMethodSelection],
      [socks5.encodeUserPassRequest('alice', 'pw'), socks5.parseUserPassRequest],
      [socks5.encodeUserPassReply(0), socks5.parseUserPassReply],
      [socks5.encodeRequest(1, { type: 'domain', host: 'a.b', port: 1 }), socks5.parseRequest],
      [socks5.encodeReply(0, { type: 'ipv6', host: '::2', port: 1 }), socks5.parseReply],
      [socks4.encodeRequest(1, { type: 'domain', host: 'a.b', port: 1 }, 'u'), socks4.parseRequest],
      [socks4.encodeReply(90), socks4.parseReply],
    ];
    for (const [msg, parse] of msgs) {
      for (let i = 0; i < msg.length; i++) expect(parse(msg.subarray(0, i))).toBeNull();
      expect(parse(msg)).not.toBeNull();
    }
  });
});

describe('SOCKS4/4a', () => {
  test('SOCKS4 CONNECT as redsocks sends it', () => {
    const b = hex(`04 01 0050 7f000001 ${ascii('bob')} 00`);
    expect(socks4.encodeRequest(1, { type: 'ipv4', host: '127.0.0.1', port: 80 }, 'bob')).toEqual(b);
    expect(socks4.parseRequest(b)).toEqual({ command: 1, address: { type: 'ipv4', host: '127.0.0.1', port: 80 }, userId: 'bob', length: 12 });
    expect(socks4.encodeRequest(1, { type: 'ipv4', host: '10.0.0.1', port: 22 })).toEqual(hex('04 01 0016 0a000001 00'));
  });
  test('SOCKS4a domain', () => {
    const b = hex(`04 01 01bb 00000001 00 ${ascii('example.com')} 00`);
    expect(socks4.encodeRequest(1, { type: 'domain', host: 'example.com', port: 443 })).toEqual(b);
    expect(socks4.parseRequest(Buffer.concat([b, hex('aabb')]))).toEqual({
      command: 1,
      address: { type: 'domain', host: 'example.com', port: 443 },
      userId: '',
      length: b.length,
    });
    // 0.0.0.0 is a plain SOCKS4 address, not 4a
    expect(socks4.parseRequest(hex('04 02 0001 00000000 00'))?.address).toEqual({ type: 'ipv4', host: '0.0.0.0', port: 1 });
  });
  test('replies', () => {
    expect(socks4.encodeReply(Socks4Rep.Granted)).toEqual(hex('005a000000000000'));
    expect(socks4.encodeReply(91, { type: 'ipv4', host: '1.2.3.4', port: 258 })).toEqual(hex('005b010201020304'));
    expect(socks4.parseReply(hex('005a1f9001020304'))).toEqual({ rep: 90, address: { type: 'ipv4', host: '1.2.3.4', port: 8080 }, length: 8 });
  });
  test('malformed', () => {
    expectCode(() => socks4.parseRequest(hex('05')), 'ESOCKS_VERSION');
    expectCode(() => socks4.parseReply(hex('04')), 'ESOCKS_VERSION');
    expectCode(() => socks4.parseRequest(Buffer.concat([hex('0401005001020304'), Buffer.alloc(300, 0x41)])), 'ESOCKS4_USERID');
    expectCode(() => socks4.parseRequest(hex('04 01 0050 00000001 00 00')), 'ESOCKS_DOMAIN');
    expectCode(() => socks4.encodeRequest(1, { type: 'ipv6', host: '::1', port: 1 }), 'ESOCKS_ATYP');
  });
});

describe('UDP header', () => {
  test('literal and round trip', () => {
    const b = hex(`0000 00 01 7f000001 0035 ${ascii('hello')}`);
    const d = parseUdpDatagram(b);
    expect(d.frag).toBe(0);
    expect(d.address).toEqual({ type: 'ipv4', host: '127.0.0.1', port: 53 });
    expect(d.data.toString()).toBe('hello');
    expect(encodeUdpDatagram(d.address, Buffer.from('hello'))).toEqual(b);
    const v6 = encodeUdpDatagram({ type: 'ipv6', host: '::1', port: 7 }, Buffer.alloc(0), 1);
    expect(v6.length).toBe(3 + 19);
    expect(parseUdpDatagram(v6)).toEqual({ frag: 1, address: { type: 'ipv6', host: '::1', port: 7 }, data: Buffer.alloc(0) });
  });
  test('truncated and bad ATYP', () => {
    expectCode(() => parseUdpDatagram(hex('000000')), 'ESOCKS_UDP_TRUNCATED');
    expectCode(() => parseUdpDatagram(hex('000000017f00')), 'ESOCKS_UDP_TRUNCATED');
    expectCode(() => parseUdpDatagram(hex('00000009')), 'ESOCKS_ATYP');
  });
});

describe('errno -> REP', () => {
  test('table', () => {
    expect(errnoToRep('ECONNREFUSED')).toBe(5);
    expect(errnoToRep('ENETUNREACH')).toBe(3);
    expect(errnoToRep('EHOSTUNREACH')).toBe(4);
    expect(errnoToRep('EHOSTDOWN')).toBe(4);
    expect(errnoToRep('ETIMEDOUT')).toBe(4);
    expect(errnoToRep('ETIMEDOUT', { timeoutRep: Rep.Timeout })).toBe(9);
    expect(errnoToRep('ENOTFOUND')).toBe(4);
    expect(errnoToRep('EAI_AGAIN')).toBe(4);
    expect(errnoToRep('EACCES')).toBe(2);
    expect(errnoToRep('EPERM')).toBe(2);
    expect(errnoToRep('ECONNRESET')).toBe(1);
    expect(errnoToRep(undefined)).toBe(1);
    expect(errnoToSocks4Rep('ECONNREFUSED')).toBe(91);
  });
});
