/**
 * `redsocks -t` (Debian's redsocks 0.5) against our parser on every redsocks config in
 * tests/fixtures/compat-examples plus generated quirky variants. Where both reject, the stderr lines
 * must be identical too. Deliberate differences are asserted explicitly.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '@mptcp-proxy/common';
import { loadRedsocksConfig } from 'redsocks-ts';
import { prng, structuredSoup, tokenSoup } from '../../packages/redsocks-ts/test/config/fuzz';
import { compatExample, compatExamples, makeTestCerts } from '@mptcp-proxy/lab';

const REDSOCKS = '/usr/sbin/redsocks';

interface Real {
  rc: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function runReal(file: string): Real {
  const r = spawnSync(REDSOCKS, ['-t', '-c', file], { encoding: 'utf8', timeout: 20_000 });
  return { rc: r.status, signal: r.signal, stderr: r.stderr };
}

type Ours = { ok: true } | { ok: false; err: ConfigError };

function runOurs(file: string): Ours {
  try {
    loadRedsocksConfig(file);
    return { ok: true };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { ok: false, err };
  }
}

/** Our stderr as redsocks would print it (without our extra hint line). */
function redsocksLines(err: ConfigError): string {
  return err.lines.map((l) => `file parsing error at line ${l.line}: ${l.message}\n`).join('');
}

function expectAgreement(file: string): { real: Real; ours: Ours } {
  const real = runReal(file);
  const ours = runOurs(file);
  expect(real.signal).toBeNull();
  expect({ file, accepted: ours.ok }).toEqual({ file, accepted: real.rc === 0 });
  if (!ours.ok) expect(redsocksLines(ours.err)).toBe(real.stderr);
  return { real, ours };
}

const B = 'base { log_debug = off; log_info = on; log = stderr; daemon = off; redirector = iptables; }\n';
const R = (body: string): string => `redsocks {\n local_ip = 127.0.0.1; local_port = 12345;\n ip = 10.0.0.1; port = 1080;\n type = socks5;\n${body}\n}\n`;

/** Variants on which redsocks and we must agree (accept/reject and the exact error lines). */
const AGREE: Record<string, string> = {
  'minimal': B + R(''),
  'crlf line ends': (B + R('')).replace(/\n/g, '\r\n'),
  'hash is not a comment': B + '# comment\n' + R(''),
  'line and block comments': `// x\n/* a\n b */ ${B}${R(' port = 1080//c\n; /* in */ listenq = 10; // t')}`,
  'unterminated block comment at eof': B + R('') + '/* never closed\nfoo {\n',
  'equals optional and repeated': B + 'redsocks { type socks5; port == 1080; local_port = = = 1; }\n',
  'quoted key and value': B + 'redsocks { "type" = "socks5"; "local_ip" = "127.0.0.1"; }\n',
  'statement spans lines': B + 'redsocks\n{\ntype\n=\nsocks5\n;\n}\n',
  'quoted string spans lines': B + R(' login = "ab\ncd"; password = "x";'),
  'known escapes': B + R(' login = "a\\\\b\\"c\\n\\t\\r\\\'"; password = "p";'),
  'unknown escape': B + R(' login = "a\\qb";'),
  'backslash before newline': B + R(' login = "ab\\\ncd";'),
  'unterminated string': B + R(' login = "abc;'),
  'case-sensitive type': B + R(' type = SOCKS5;'),
  'unknown type': B + R(' type = direct;'),
  'missing type': B + 'redsocks { port = 1080; }\n',
  'unknown key': B + R(' bind = "127.0.0.1:1";'),
  'redsocks2 key in base': 'base { redirector = iptables; reuseport = on; }\n',
  'max_accept_backoff in redsocks': B + R(' max_accept_backoff = 100;'),
  'unknown section': B + 'dnsu2t { }\n',
  'reddns not built': B + 'reddns { }\n',
  'hex needs quotes': B + R(' port = 0x438;'),
  'quoted hex': B + R(' port = "0x438";'),
  'octal': B + R(' port = 010;'),
  'bad octal': B + R(' port = 08;'),
  'port out of range': B + R(' port = 65536;'),
  'negative port': B + R(' port = "-1";'),
  'empty number is zero': B + R(' port = "";'),
  'leading blank and sign': B + R(' port = " +12";'),
  'trailing blank': B + R(' port = "12 ";'),
  'uint32 truncates': 'base { redirector = iptables; rlimit_nofile = 99999999999; redsocks_conn_max = "-1"; }\n',
  'bool words': 'base { redirector = iptables; log_debug = ok; log_info = yes; daemon = false; }\n' + R(' splice = no;'),
  'bool digit': 'base { redirector = iptables; daemon = 1; }\n',
  'bool uppercase': 'base { redirector = iptables; daemon = On; }\n',
  'inet_aton short form': B + R(' ip = 10.1; local_ip = "0x7f000001";'),
  'inet_aton trailing text': B + R(' ip = "127.1 garbage";'),
  'hostname from /etc/hosts': B + R(' ip = localhost;'),
  'unresolvable hostname': B + R(' ip = no-such-host.invalid;'),
  'cidr-like token': B + R(' ip = 10.0.0.0/8;'),
  'slash swallows the file': B + R(' port = 1/x;') + R(' type = bogus;'),
  'unexpected char': B + R(' login = p@ss;'),
  'lone slash': B + R(' port = 5 / 3;'),
  'missing semicolon before brace': B + 'redsocks { type = socks5; port = 1080 }\n',
  'key without value': B + R(' login;'),
  'semicolon after section': B + R('') + ';\n',
  'key outside section': B + 'type = socks5;\n',
  'brace without name': B + '{ }\n',
  'nested section': B + 'redsocks { type = socks5; base { } }\n',
  'close without open': B + '}\n',
  'three tokens': B + R(' type socks5 socks4;'),
  'two names': B + 'redsocks redsocks { }\n',
  'two base sections': B + B,
  'no base section': R(''),
  'base after redsocks': R('') + B,
  'no redirector': 'base { log_debug = on; }\n',
  'pf redirector': 'base { redirector = pf; }\n',
  'generic redirector': 'base { redirector = generic; }\n',
  'max_accept_backoff zero': 'base { redirector = iptables; max_accept_backoff = 0; }\n',
  'bad log passes -t': 'base { redirector = iptables; log = "syslog:bogus"; user = nosuchuser; }\n',
  'keepalive range': 'base { redirector = iptables; tcp_keepalive_time = 70000; }\n',
  'disclose_src on socks5': B + R(' disclose_src = X-Forwarded-For;'),
  'disclose_src true': B + R(' type = http-connect; disclose_src = true;'),
  'disclose_src ok': B + R(' type = http-connect; disclose_src = Forwarded_ipport; on_proxy_fail = forward_http_err;'),
  'on_proxy_fail on socks5': B + R(' on_proxy_fail = forward_http_err;'),
  'on_proxy_fail bad': B + R(' type = http-connect; on_proxy_fail = retry;'),
  'duplicate key last wins': B + R(' type = socks4; type = http-relay; type = socks5;'),
  'repeated redsocks sections': B + R('') + R(' local_port = 12346; type = http-connect;'),
  'redudp full': B + 'redudp { local_ip = 127.0.0.1; local_port = 10053; ip = 10.0.0.1; port = 1080; login = a; password = b; dest_ip = 8.8.8.8; dest_port = 53; udp_timeout = 30; udp_timeout_stream = 180; }\n',
  'redudp timeouts': B + 'redudp { udp_timeout = 200; }\n',
  'redudp max_pktqueue': B + 'redudp { max_pktqueue = 5; }\n',
  'dnstc': B + 'dnstc { local_ip = 127.0.0.1; local_port = 5300; }\n',
  'dnstc unknown key': B + 'dnstc { ip = 1.2.3.4; }\n',
  // every redudp / dnstc shape we run (redsocks' own keys only)
  'redudp empty': B + 'redudp { }\n',
  'redudp tproxy': B + 'redudp { local_ip = 0.0.0.0; local_port = 10000; ip = 10.9.0.1; port = 1080; dest_ip = 0.0.0.0; udp_timeout = 5; udp_timeout_stream = 5; }\n',
  'redudp dest only ip': B + 'redudp { dest_ip = 8.8.8.8; }\n',
  'redudp dest only port': B + 'redudp { dest_port = 53; }\n',
  'redudp zero timeouts': B + 'redudp { udp_timeout = 0; udp_timeout_stream = 0; }\n',
  'redudp timeout range': B + 'redudp { udp_timeout = 65536; }\n',
  'redudp stream below timeout': B + 'redudp { udp_timeout = 60; udp_timeout_stream = 59; }\n',
  'redudp port range': B + 'redudp { local_port = 70000; }\n',
  'redudp login only': B + 'redudp { login = u; }\n',
  'redudp hostname': B + 'redudp { ip = localhost; dest_ip = localhost; }\n',
  'redudp unresolvable': B + 'redudp { ip = no-such-host.invalid; }\n',
  'redudp type key': B + 'redudp { type = socks5; }\n',
  'redudp redsocks key': B + 'redudp { listenq = 10; }\n',
  'redudp quoted': B + 'redudp { "local_port" = "10053"; "dest_ip" = "10.1"; }\n',
  'redudp twice same port': B + 'redudp { local_port = 10053; }\nredudp { local_port = 10053; }\n',
  'redudp ipv6 refused': B + 'redudp { dest_ip = "::1"; }\n'.replace('::1', 'zz::1'),
  'dest_ip in redsocks': B + R(' dest_ip = 8.8.8.8;'),
  'dnstc empty': B + 'dnstc { }\n',
  'dnstc port range': B + 'dnstc { local_port = 65536; }\n',
  'dnstc hostname': B + 'dnstc { local_ip = localhost; local_port = 5300; }\n',
  'dnstc twice': B + 'dnstc { local_port = 5300; }\ndnstc { local_port = 5301; }\n',
  'dnstc redudp key': B + 'dnstc { dest_ip = 1.1.1.1; }\n',
  'all three sections': B + R('') + 'redudp { local_port = 10053; ip = 10.0.0.1; port = 1080; }\ndnstc { local_port = 5300; }\n',
  'unknown top-level word': B + 'hello\n',
  'trailing comment without newline': B + R('') + '// the end',
};

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redsocks-verify-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const file = path.join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.conf`);
  fs.writeFileSync(file, text);
  return file;
}

test('the real redsocks 0.5 binary is installed', () => {
  expect(fs.existsSync(REDSOCKS)).toBe(true);
  const v = spawnSync(REDSOCKS, ['-v'], { encoding: 'utf8' });
  expect(v.stdout).toContain('redsocks/0.5');
});

describe('shipped example configs', () => {
  const files = compatExamples(/^(redsocks\.conf|redsocks\.conf\.example|user-redsocks-.*\.conf)$/);

  test('all redsocks examples are found', () => {
    expect(files).toEqual(expect.arrayContaining(['redsocks.conf', 'redsocks.conf.example']));
    expect(files.length).toBeGreaterThanOrEqual(4);
  });

  test.each(files)('%s: same verdict and messages as redsocks -t', (f) => {
    expectAgreement(compatExample(f));
  });
});

describe('generated variants agree with redsocks -t', () => {
  test.each(Object.entries(AGREE))('%s', (name, text) => {
    expectAgreement(write(name, text));
  });

  test('the variant set exercises both verdicts', () => {
    const verdicts = Object.entries(AGREE).map(([n, t]) => runOurs(write(`v-${n}`, t)).ok);
    expect(verdicts.filter((v) => v).length).toBeGreaterThan(10);
    expect(verdicts.filter((v) => !v).length).toBeGreaterThan(30);
  });
});

describe('the redsocks-ts CLI: `-t -c FILE` exits like `redsocks -t -c FILE`', () => {
  const CLI_CASES = ['minimal', 'hash is not a comment', 'no base section', 'two base sections', 'unknown key', 'disclose_src on socks5'];

  async function cliTest(file: string): Promise<{ rc: number; stderr: string }> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const cli = require('../../packages/redsocks-ts/src/cli') as { main(argv: string[]): Promise<number> };
    let stderr = '';
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr += chunk.toString();
      return true;
    });
    try {
      return { rc: await cli.main(['-t', '-c', file]), stderr };
    } finally {
      spy.mockRestore();
    }
  }

  test.each(['redsocks.conf', 'redsocks.conf.example', 'user-redsocks-http-multi.conf', 'user-redsocks-socks5-auth.conf'])('example %s', async (f) => {
    const file = compatExample(f);
    const ours = await cliTest(file);
    expect(ours.rc).toBe(runReal(file).rc);
  });

  // Deliberate difference: redsocks -t passes a log target that its start-up then refuses; ours fails -t.
  test.each([
    ['bad log passes -t', 'log_preopen(syslog:bogus, ...): unknown syslog facility'],
    ['empty log file name', 'log_preopen(file:, ...): no file name'],
  ])('variant %s: redsocks -t passes, redsocks-ts -t fails as its start-up would', async (name, text) => {
    const file = write(`cli-${name}`, name === 'empty log file name' ? 'base { redirector = iptables; log = "file:"; }\n' : AGREE[name]!);
    expect(runReal(file).rc).toBe(0);
    const ours = await cliTest(file);
    expect(ours.rc).toBe(1);
    expect(ours.stderr).toContain(`file parsing error at line 1: ${text}`);
  });

  test.each(CLI_CASES)('variant %s', async (name) => {
    const file = write(`cli-${name}`, AGREE[name]!);
    const real = runReal(file);
    const ours = await cliTest(file);
    expect(ours.rc).toBe(real.rc);
    if (real.rc !== 0) {
      expect(ours.stderr).toContain(real.stderr.split('\n')[0]!.replace(/^file parsing error at line \d+: /, ''));
      // every line redsocks prints, in order; only our `hint:` line may follow
      expect(ours.stderr.slice(0, real.stderr.length)).toBe(real.stderr);
      expect(ours.stderr.slice(real.stderr.length)).toMatch(/^(hint: [^\n]+\n)?$/);
    }
  });
});

describe('differential fuzz against redsocks -t', () => {
  test('100 random configs: same verdict and same error lines (or a documented difference)', () => {
    const rand = prng(0xc0ffee);
    const seen = { agreeOk: 0, agreeReject: 0, abort: 0 };
    let made = 0;
    for (let i = 0; made < 100; i++) {
      const text = i % 2 === 0 ? structuredSoup(rand) : `${tokenSoup(rand)}\n`;
      if (/mptcp|paths|fastopen|optimistic/.test(text)) continue; // extension keys: see below
      made++;
      const file = write(`fuzz-${made}`, text);
      const ours = runOurs(file);
      if (!ours.ok && ours.err.code === 'ECONFIG_EMPTY_STATEMENT') {
        const real = runReal(file);
        expect({ text, aborted: real.signal === 'SIGABRT' || real.rc === 134 }).toEqual({ text, aborted: true });
        seen.abort++;
        continue;
      }
      const { real } = expectAgreement(file);
      if (real.rc === 0) seen.agreeOk++;
      else seen.agreeReject++;
    }
    expect(seen.agreeOk).toBeGreaterThanOrEqual(2);
    expect(seen.agreeReject).toBeGreaterThan(40);
  });
});

describe('documented deliberate differences', () => {
  test('`;;` aborts redsocks (SIGABRT); we report a clear error', () => {
    const file = write('double-semicolon', B + R(' port = 1080;;'));
    const real = runReal(file);
    expect(real.signal === 'SIGABRT' || real.rc === 134).toBe(true);
    expect(real.stderr).toContain('Assertion');
    const ours = runOurs(file);
    expect(ours.ok).toBe(false);
    if (!ours.ok) {
      expect(ours.err.code).toBe('ECONFIG_EMPTY_STATEMENT');
      expect(ours.err.line).toBe(6);
    }
  });

  test('a last line without newline: redsocks ignores it and accepts, we reject', () => {
    const file = write('no-newline-accepted', B + R('') + 'redsocks { }');
    expect(runReal(file).rc).toBe(0);
    const ours = runOurs(file);
    expect(ours.ok).toBe(false);
    if (!ours.ok) {
      expect(ours.err.code).toBe('ECONFIG_NO_NEWLINE');
      expect(ours.err.line).toBe(8);
    }
  });

  test('a last line without newline: both reject, our message names the cause', () => {
    const file = write('no-newline-rejected', B + R('').trimEnd());
    const real = runReal(file);
    expect(real.rc).toBe(1);
    expect(real.stderr).toContain('unclosed section');
    const ours = runOurs(file);
    expect(ours.ok).toBe(false);
    if (!ours.ok) expect(ours.err.code).toBe('ECONFIG_NO_NEWLINE');
  });

  // Extensions beyond redsocks 0.5 (docs/redsocks-compat.md): redsocks -t rejects each with
  // its usual message; we accept them. Every redudp/dnstc shape without extensions is in AGREE.
  test.each([
    ['IPv6 literal in redsocks', B + R(' ip = "::1"; local_ip = "::";'), 'getaddrinfo error -9'],
    ['IPv6 literal in redudp', B + 'redudp { local_ip = "::"; dest_ip = "2001:db8::53"; dest_port = 53; }\n', 'getaddrinfo error -9'],
    ['IPv6 literal in dnstc', B + 'dnstc { local_ip = "::1"; }\n', 'getaddrinfo error -9'],
    ['dial keys in redudp', B + 'redudp { mptcp = on; paths = "a 10.0.1.2, b 10.0.2.2"; path_probe_interval = 200; path_probe_timeout = 300; }\n', 'assignment with unknown key <mptcp>'],
    ['the dns section', B + 'dns { local_port = 5353; resolver_ip = 10.9.0.53; }\n', 'unknown section <dns>'],
  ])('%s: redsocks -t refuses, we accept', (name, text, theirs) => {
    const file = write(`ext-${name}`, text);
    const real = runReal(file);
    expect(real.rc).toBe(1);
    expect(real.stderr).toContain(theirs);
    expect(runOurs(file).ok).toBe(true);
  });

  test('extension keys: redsocks rejects them as unknown keys, we accept them', () => {
    const file = write('extensions', B + R(' mptcp = on; optimistic = on; fastopen = on; fastopen_data_ports = "443,8443"; pool_size = 4; paths = "wan1 10.1.1.1 dev eth1, wan2 10.1.2.1 backup";'));
    const real = runReal(file);
    expect(real.rc).toBe(1);
    expect(real.stderr).toContain('assignment with unknown key <mptcp>');
    expect(runOurs(file).ok).toBe(true);
  });

  test('tls keys: redsocks rejects them as unknown keys, we accept them', () => {
    const certs = makeTestCerts(path.join(dir, 'certs'), '10.0.0.1');
    const file = write('tls', B + R(` tls = on; tls_ca = "${certs.ca}"; tls_pin = "${certs.serverPin}"; tls_cert = "${certs.clientCert}"; tls_key = "${certs.clientKey}";`));
    const real = runReal(file);
    expect(real.rc).toBe(1);
    expect(real.stderr).toContain('assignment with unknown key <tls>');
    expect(runOurs(file).ok).toBe(true);
  });

  test('base extension keys (metrics, syslog ident): redsocks rejects them, we accept them', () => {
    const file = write('base-extensions', 'base { log = stderr; daemon = off; redirector = iptables; metrics_port = 9101; metrics_ip = 127.0.0.1; syslog_ident = redsocks; }\n' + R(''));
    const real = runReal(file);
    expect(real.rc).toBe(1);
    expect(real.stderr).toContain('assignment with unknown key <metrics_port>');
    expect(runOurs(file).ok).toBe(true);
  });
});
