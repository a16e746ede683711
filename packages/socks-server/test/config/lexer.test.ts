import { isKeywordToken, tokenize } from '../../src/config/lexer';

describe('danted.conf lexer', () => {
  it('drops # comments anywhere and keeps line numbers', () => {
    const toks = tokenize('# header\nlogoutput: stderr # trailing\n\n  debug: 1#x\n');
    expect(toks.map((t) => [t.text, t.line, t.col, t.nl])).toEqual([
      ['logoutput:', 2, 1, true],
      ['stderr', 2, 12, false],
      ['debug:', 4, 3, true],
      ['1', 4, 10, false],
    ]);
  });

  it('joins lines ending in a backslash into one logical line', () => {
    const toks = tokenize('internal: 127.0.0.1 \\\n  port = 1080\nexternal: lo\n');
    expect(toks.map((t) => t.text)).toEqual(['internal:', '127.0.0.1', 'port', '=', '1080', 'external:', 'lo']);
    expect(toks.find((t) => t.text === 'port')).toMatchObject({ line: 2, nl: false });
    expect(toks.find((t) => t.text === 'external:')).toMatchObject({ line: 3, nl: true });
  });

  it('splits braces and port operators off words', () => {
    expect(tokenize('socks pass{from: 0/0 to: 0/0 port>=1024}').map((t) => t.text)).toEqual([
      'socks', 'pass', '{', 'from:', '0/0', 'to:', '0/0', 'port', '>=', '1024', '}',
    ]);
    expect(tokenize('port != 80 port<=9 port<9 port>9 port=9 port==9').map((t) => t.text)).toEqual([
      'port', '!=', '80', 'port', '<=', '9', 'port', '<', '9', 'port', '>', '9', 'port', '=', '9', 'port', '==', '9',
    ]);
  });

  it('handles CRLF and a missing final newline', () => {
    expect(tokenize('a: b\r\nc: d').map((t) => [t.text, t.line])).toEqual([
      ['a:', 1], ['b', 1], ['c:', 2], ['d', 2],
    ]);
  });

  it('tells keywords from IPv6 addresses', () => {
    expect(isKeywordToken('from:')).toBe(true);
    expect(isKeywordToken('timeout.io.tcp:')).toBe(true);
    expect(isKeywordToken('::')).toBe(false);
    expect(isKeywordToken('fe80::')).toBe(false);
    expect(isKeywordToken('2001:db8::')).toBe(false);
    expect(isKeywordToken('from:0/0')).toBe(false);
  });
});
