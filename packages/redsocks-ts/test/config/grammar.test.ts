import { ConfigError } from '@mptcp-proxy/common';
import { redsocksErrorText } from 'redsocks-ts';
import { BASE, parse, reject, rs } from './helpers';

describe('tokens and comments', () => {
  test('// and /* */ comments, including multi-line and unterminated at EOF', () => {
    const { config } = parse(`// top\n/* a\n b */ ${BASE}redsocks { type = socks5; /* x */ port = 1080//c\n; listenq = 7; // end\n}\n/* open\nfoo {\n`);
    expect(config.redsocks[0]!.port).toBe(1080);
    expect(config.redsocks[0]!.listenq).toBe(7);
  });

  test('`/*/` does not close the comment it opens', () => {
    const { config } = parse(`${BASE}redsocks { type = socks5; /*/ port = 1; */ port = 2; }\n`);
    expect(config.redsocks[0]!.port).toBe(2);
  });

  test('# is not a comment', () => {
    const err = reject(`${BASE}# hello\n`);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.detail).toBe('unexpected char');
    expect(err.line).toBe(2);
    expect(err.file).toBe('test.conf');
    expect(err.column).toBe(1);
    expect(err.message).toBe('test.conf:2:1: unexpected char (near "#")');
  });

  test.each([
    ['an unknown key', `${BASE}redsocks {\n  type = socks5; prot = 1;\n}\n`, 3, 18, 'prot'],
    ['a bad value', `${BASE}redsocks {\n  port   =  08;\n}\n`, 3, 13, '08'],
    ['a stray brace', `${BASE}\n  }\n`, 3, 3, '}'],
    ['an unknown section', `${BASE} bas {\n}\n`, 2, 2, 'bas'],
    ['a key on the line before its value', `${BASE}redsocks {\n  prot =\n 1;\n}\n`, 4, undefined, 'prot'],
  ])('ConfigError names the column of %s', (_what, text, line, column, token) => {
    const err = reject(text);
    expect({ line: err.line, column: err.column, token: err.token }).toEqual({ line, column, token });
    expect(err.message.startsWith(column === undefined ? `test.conf:${line}: ` : `test.conf:${line}:${column}: `)).toBe(true);
  });

  test.each([['p@ss'], ['_user'], ['syslog:daemon'], ['-1']])('unquoted %s is an unexpected char', (v) => {
    expect(reject(rs(`login = ${v};`)).detail).toBe('unexpected char');
  });

  test('quoted strings: escapes, and they may span lines', () => {
    const { config } = parse(rs('login = "a\\\\b\\"c\\n\\t\\r\\\'"; password = "x\ny";'));
    expect(config.redsocks[0]!.login).toBe('a\\b"c\n\t\r\'');
    expect(config.redsocks[0]!.password).toBe('x\ny');
  });

  test('unknown escape', () => {
    const err = reject(rs('login = "a\\qb";'));
    expect(err.detail).toBe('unknown escaped char after \\');
    expect(err.lines.map((l) => l.message)).toEqual(['unknown escaped char after \\', 'unclosed section', 'stale key_token']);
  });

  test('a number token: digits, dots and /digit; 0x438 splits into two tokens', () => {
    expect(reject(rs('port = 0x438;')).detail).toBe('invalid token order: key_token=port, value_token=0, next token=x438');
    expect(parse(rs('port = "0x438";')).config.redsocks[0]!.port).toBe(0x438);
  });

  test('`1/x` never completes and swallows the rest of the file (redsocks behaviour), with a hint', () => {
    const err = reject(`${rs('port = 1/x;')}redsocks { type = bogus; }\n`);
    expect(err.lines).toEqual([
      { line: 3, message: 'unclosed section' },
      { line: 3, message: 'stale key_token' },
    ]);
    expect(err.hint).toContain('starts at line 2');
  });

  test('CRLF files work', () => {
    expect(parse(rs('port = 1080;').replace(/\n/g, '\r\n')).config.redsocks[0]!.port).toBe(1080);
  });

  test('a NUL byte is a clear error', () => {
    expect(reject(`${BASE}\0\n`).code).toBe('ECONFIG_NUL');
  });
});

describe('statements', () => {
  test('= is optional and may repeat; keys may be quoted; statements span lines', () => {
    const { config } = parse(`${BASE}redsocks\n{\n"type" socks5;\nport == 1080;\nlocal_port\n=\n=\n12345\n;\n}\n`);
    expect(config.redsocks[0]).toMatchObject({ type: 'socks5', port: 1080, localPort: 12345, line: 3 });
  });

  test('duplicate key: last wins', () => {
    expect(parse(rs('port = 1; port = 2; type = http-relay; type = socks4;')).config.redsocks[0]).toMatchObject({ port: 2, type: 'socks4' });
  });

  test('repeated redsocks sections keep their order and lines', () => {
    const { config } = parse(`${BASE}redsocks { type = socks5; local_port = 1; }\n\nredsocks { type = socks4; local_port = 2; }\n`);
    expect(config.redsocks.map((r) => [r.line, r.localPort, r.type])).toEqual([[2, 1, 'socks5'], [4, 2, 'socks4']]);
  });

  test.each([
    ['section in section', `${BASE}redsocks { type = socks5; base { } }\n`, ['section-in-section is invalid', 'unclosed section', 'stale key_token']],
    ['brace without name', `${BASE}{ }\n`, ["expected token before ``{''"]],
    ['close without open', `${BASE}}\n`, ["can't close non-opened section"]],
    ['= outside a section', `${BASE}redsocks = { }\n`, ['assignment used outside of any section', 'stale section_token']],
    ['= without key', `${BASE}redsocks { = socks5; }\n`, ['assignment used without key', 'unclosed section']],
    ['; outside a section', `${BASE};\n`, ['assignment termination outside of any section']],
    ['}; after a section', `${BASE.trimEnd()};\n`, ['assignment termination outside of any section']],
    ['key without value', rs('login;'), ['assignment has only key <login> but no value', 'unclosed section']],
    ['missing ; before }', `${BASE}redsocks { type = socks5; port = 1080 }\n`, ['stale key_token', 'stale value_token']],
    ['three tokens', rs('type socks5 socks4;'), ['invalid token order: key_token=type, value_token=socks5, next token=socks4', 'unclosed section', 'stale key_token', 'stale value_token']],
    ['two names', `${BASE}redsocks redsocks { }\n`, ['invalid token order: key_token=(null), value_token=(null), next token=redsocks', 'stale section_token']],
    ['unknown section', `${BASE}bas { }\n`, ['unknown section <bas>']],
    ['unknown key', rs('foo = 1;'), ['assignment with unknown key <foo>', 'unclosed section']],
    ['bad value', rs('port = 08;'), ['integer is not parsed', "value <08> can't be parsed for key <port>", 'unclosed section']],
    ['two bases', BASE + BASE, ['only one instance of base is valid', 'section->onenter failed', 'unclosed section']],
    ['unclosed at EOF', `${BASE}redsocks { type = socks5;\n`, ['unclosed section']],
  ])('%s', (_name, text, messages) => {
    const err = reject(text);
    expect(err.lines.map((l) => l.message)).toEqual(messages);
    expect(err.detail).toBe(messages[0]);
    expect(redsocksErrorText(err)).toContain(`file parsing error at line ${err.line}: ${messages[0]}\n`);
  });

  test('errors carry stable codes', () => {
    expect(reject(`${BASE}bas { }\n`).code).toBe('ECONFIG_UNKNOWN_SECTION');
    expect(reject(rs('foo = 1;')).code).toBe('ECONFIG_UNKNOWN_KEY');
    expect(reject(rs('port = 08;')).code).toBe('ECONFIG_VALUE');
    expect(reject(rs('', 'bogus')).code).toBe('ECONFIG_SECTION');
    expect(reject(`${BASE}}\n`).code).toBe('ECONFIG_SYNTAX');
  });

  test('error line is the line where redsocks notices it', () => {
    const err = reject(`${BASE}redsocks {\n type = socks5;\n port = 70000\n ;\n}\n`);
    expect(err.line).toBe(5);
    expect(err.lines.every((l) => l.line === 5)).toBe(true);
  });
});

describe('redsocks bugs become clear errors', () => {
  test.each([[rs('port = 1;;')], [`${BASE}redsocks { ; }\n`]])('`;` without key (redsocks aborts): %j', (text) => {
    const err = reject(text);
    expect(err.code).toBe('ECONFIG_EMPTY_STATEMENT');
    expect(err.line).toBe(2);
    expect(err.hint).toContain('SIGABRT');
  });

  test('a last line with tokens but without newline', () => {
    const err = reject(`${BASE}redsocks { type = socks5; }`);
    expect(err.code).toBe('ECONFIG_NO_NEWLINE');
    expect(err.line).toBe(2);
  });

  test('a last line with only a comment or blanks needs no newline', () => {
    expect(parse(`${rs('')}// done`).config.redsocks).toHaveLength(1);
    expect(parse(`${rs('')}   \t`).config.redsocks).toHaveLength(1);
    expect(parse(`${rs('')}/* x */ `).config.redsocks).toHaveLength(1);
    expect(parse(`${rs('')}/* open\n still */`).config.redsocks).toHaveLength(1);
    expect(parse('').config.redsocks).toHaveLength(0);
  });
});

describe('migration hints', () => {
  test.each([
    [rs('bind = "127.0.0.1:1";'), 'local_ip'],
    [rs('relay = "1.2.3.4:1080";'), '`ip = '],
    [rs('max_accept_backoff = 5;'), 'move it from `redsocks` to `base`'],
    [rs('', 'direct'), '`direct`'],
    ['base { redirector = iptables; reuseport = on; }\n', 'redsocks2'],
    [`${BASE}tcpdns { }\n`, 'dnstc'],
    [`${BASE}dnsu2t { }\n`, 'dnstc'],
    [`${BASE}autoproxy { }\n`, 'autoproxy'],
    ['base { redirector = pf; }\n', 'BSD'],
  ])('%j', (text, hintPart) => {
    const err = reject(text);
    expect(err.hint).toContain(hintPart);
    expect(err.message).toContain('hint:');
    expect(redsocksErrorText(err)).toContain(`hint: ${err.hint}`);
  });

  test('no hint for a plain typo', () => {
    expect(reject(rs('prot = 1;')).hint).toBeUndefined();
  });
});
