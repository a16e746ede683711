import { connectRequest, discloseHeader, findHeader, HTTP_MAX_LINE, parseHttpReplyHead } from '../../src/upstream/http-connect';
import { parseRequestHead, rewriteRequest } from '../../src/upstream/http-relay';
import { socks4ConnectRequest } from '../../src/upstream/socks4';

/** Feeds every prefix; all but the full message must ask for more. */
function splitFuzz<T extends { length: number }>(msg: Buffer, parse: (b: Buffer) => T | null, headLen: number): T {
  for (let i = 0; i < headLen; i++) expect(parse(msg.subarray(0, i))).toBeNull();
  const v = parse(msg);
  expect(v).not.toBeNull();
  // any split point, then the rest arriving: same result
  for (let i = headLen; i <= msg.length; i++) expect(parse(msg.subarray(0, i))).toEqual(v);
  return v as T;
}

describe('http-connect bytes', () => {
  test('CONNECT request: no Host header, HTTP/1.0', () => {
    expect(connectRequest({ address: '10.0.0.1', port: 443 }, '', '')).toBe('CONNECT 10.0.0.1:443 HTTP/1.0\r\n\r\n');
    expect(
      connectRequest(
        { address: '10.0.0.1', port: 80 },
        'Proxy-Authorization: Basic dTpw\r\n',
        discloseHeader('X-Forwarded-For', { address: '192.168.1.5', port: 4000 }),
      ),
    ).toBe('CONNECT 10.0.0.1:80 HTTP/1.0\r\nProxy-Authorization: Basic dTpw\r\nX-Forwarded-For: 192.168.1.5\r\n\r\n');
  });

  test('disclose_src header forms', () => {
    const c = { address: '192.168.1.5', port: 4000 };
    expect(discloseHeader('false', c)).toBe('');
    expect(discloseHeader('Forwarded_ip', c)).toBe('Forwarded: for=192.168.1.5\r\n');
    expect(discloseHeader('Forwarded_ipport', c)).toBe('Forwarded: for="192.168.1.5:4000"\r\n');
  });

  test('reply head split at every point', () => {
    const head = 'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="x"\r\nContent-Length: 0\r\n\r\n';
    const msg = Buffer.from(head + 'tail', 'latin1');
    const v = splitFuzz(msg, parseHttpReplyHead, head.length);
    expect(v.length).toBe(head.length);
    expect(v.code).toBe(407);
    expect(v.statusLine).toBe('HTTP/1.1 407 Proxy Authentication Required');
    expect(findHeader(v, 'proxy-authenticate')).toBe('Basic realm="x"');
  });

  test('LF-only line ends and a non-HTTP first line', () => {
    expect(parseHttpReplyHead(Buffer.from('HTTP/1.0 200 OK\n\n'))).toMatchObject({ code: 200, length: 17 });
    const bad = parseHttpReplyHead(Buffer.from('SSH-2.0-x\r\n\r\n'));
    expect(bad?.code).toBeNaN();
  });

  test('a line longer than 4096 bytes is refused', () => {
    expect(() => parseHttpReplyHead(Buffer.from('HTTP/1.0 200 ' + 'x'.repeat(HTTP_MAX_LINE + 1)))).toThrow();
  });
});

describe('http-relay request rewriting', () => {
  const req = 'GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\nProxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n';

  test('request head split at every point', () => {
    const msg = Buffer.from(req + 'BODY');
    const v = splitFuzz(msg, parseRequestHead, req.length);
    expect(v).toMatchObject({ method: 'GET', uri: '/a/b?c=d', version: 'HTTP/1.1', length: req.length });
  });

  test('absolute URI from Host, Connection headers replaced', () => {
    const h = parseRequestHead(Buffer.from(req))!;
    expect(rewriteRequest(h, { address: '93.184.216.34', port: 80 })).toBe(
      'GET http://example.com/a/b?c=d HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n' +
        'Proxy-Connection: close\r\nConnection: close\r\n\r\n',
    );
  });

  test('no Host header: the original destination is used and a Host header added', () => {
    const h = parseRequestHead(Buffer.from('GET / HTTP/1.0\n\n'))!;
    expect(rewriteRequest(h, { address: '10.0.0.9', port: 8080 }, 'Proxy-Authorization: Basic dTpw\r\n')).toBe(
      'GET http://10.0.0.9:8080/ HTTP/1.0\r\nHost: 10.0.0.9:8080\r\nProxy-Authorization: Basic dTpw\r\n' +
        'Proxy-Connection: close\r\nConnection: close\r\n\r\n',
    );
  });

  test('a malformed request line is a ProtocolError', () => {
    expect(() => parseRequestHead(Buffer.from('\x16\x03\x01 hello\r\n\r\n'))).toThrow(/malformed/);
  });
});

describe('socks4 bytes', () => {
  test('04 01 port ip login 00', () => {
    expect(socks4ConnectRequest({ address: '10.1.2.3', port: 80 }).toString('hex')).toBe('04010050' + '0a010203' + '00');
    expect(socks4ConnectRequest({ address: '10.1.2.3', port: 443 }, 'bob').toString('hex')).toBe(
      '040101bb0a010203' + Buffer.from('bob').toString('hex') + '00',
    );
  });
});
