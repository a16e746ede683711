/** The error classes: stable codes and typed fields, no casts needed to read them back. */
import { ConfigError, ConfigValueError, ProtocolError, ProxyError, RelayError, UpstreamError, errorCode } from '@mptcp-proxy/common';

describe('ConfigError', () => {
  test('file:line, the token, no column when none is known', () => {
    const e = new ConfigError('ECONFIG_SYNTAX', 'a.conf', 3, 'syntax error', '{');
    expect(e).toBeInstanceOf(ProxyError);
    expect(e.message).toBe('a.conf:3: syntax error (near "{")');
    expect(e.column).toBeUndefined();
    expect(e.lines).toEqual([{ line: 3, message: 'syntax error' }]);
  });

  test('file:line:column, a hint and the lines the original program prints', () => {
    const lines = [{ line: 2, message: 'unknown key' }, { line: 4, message: 'unclosed section' }];
    const e = new ConfigError('ECONFIG_UNKNOWN_KEY', 'b.conf', 2, 'unknown key', 'prot', { column: 7, hint: 'did you mean port?', lines });
    expect(e.message).toBe('b.conf:2:7: unknown key (near "prot")\n  hint: did you mean port?');
    expect([e.code, e.column, e.hint, e.lines]).toEqual(['ECONFIG_UNKNOWN_KEY', 7, 'did you mean port?', lines]);
  });

  test('ConfigValueError carries the hint to the grammar', () => {
    const e = new ConfigValueError('integer is not parsed', 'use decimal');
    expect([e.code, e.message, e.hint]).toEqual(['ECONFIG_VALUE', 'integer is not parsed', 'use decimal']);
  });
});

test('UpstreamError: resetClient/clientHandled are booleans, the answer is typed', () => {
  const cause = new ProtocolError('ESOCKS_VERSION', 'bad version');
  const e = new UpstreamError('ESOCKS5_STATUS', 'Socks5 server status: refused (5)', { resetClient: true, rep: 5, cause });
  expect([e.code, e.resetClient, e.clientHandled, e.rep, e.cause]).toEqual(['ESOCKS5_STATUS', true, false, 5, cause]);
  expect(new UpstreamError('EHTTPSTATUS', 'HTTP Proxy error')).toMatchObject({ resetClient: false, clientHandled: false });
});

test('RelayError names its side and cause', () => {
  const cause = Object.assign(new Error('reset'), { code: 'ECONNRESET' });
  const e = new RelayError('ERELAY_SOCKET', 'a: reset', 'a', cause);
  expect([e.code, e.side, e.cause, e.name]).toEqual(['ERELAY_SOCKET', 'a', cause, 'RelayError']);
});

test('errorCode reads our codes and Node errno codes alike', () => {
  expect(errorCode(new ProtocolError('ESOCKS_ATYP', 'x'))).toBe('ESOCKS_ATYP');
  expect(errorCode(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
  expect(errorCode(new Error('x'))).toBeUndefined();
  expect(errorCode(undefined)).toBeUndefined();
});
