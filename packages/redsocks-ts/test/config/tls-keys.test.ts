/** The TLS extension keys of `redsocks { }` (docs/tls.md): read, cross-checked, refused with line and column. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeTestCerts, type TestCerts } from '@mptcp-proxy/lab';
import { BASE, parse, reject, rs } from './helpers';

let certs: TestCerts;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-keys-'));
beforeAll(() => {
  certs = makeTestCerts(dir, '10.9.9.9');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('off by default; tls = on with a pin, a CA, a client certificate and a server name', () => {
  expect(parse(rs('')).config.redsocks[0]!.tls).toBeUndefined();
  // upper case with colons, as openssl x509 -fingerprint prints it
  const withColons = `sha256:${certs.serverPin.slice(7).toUpperCase().match(/../g)!.join(':')}`;
  const t = parse(rs(`tls = on; tls_pin = "${withColons}"; tls_ca = "${certs.ca}"; tls_cert = "${certs.clientCert}"; tls_key = "${certs.clientKey}"; tls_servername = proxy.example;`)).config.redsocks[0]!.tls!;
  expect(t.pin).toBe(certs.serverPin.slice(7));
  expect(t.ca).toContain('-----BEGIN CERTIFICATE-----');
  expect(t.cert).toContain('-----BEGIN CERTIFICATE-----');
  expect(t.key).toMatch(/-----BEGIN (EC )?PRIVATE KEY-----/);
  expect(t.servername).toBe('proxy.example');
  expect(parse(rs('tls = off;')).config.redsocks[0]!.tls).toBeUndefined();
});

test.each([
  ['tls_pin = "sha1:00";', 'tls_pin <sha1:00> is not sha256:HEX'],
  ['tls_pin = "sha256:abcd";', 'is not sha256:HEX'],
  ['tls_ca = "/nonexistent/ca.pem";', 'tls_ca: cannot read /nonexistent/ca.pem'],
])('a bad value names the key, line and column: %s', (body, detail) => {
  const err = reject(`base { redirector = iptables; }\nredsocks { type = socks5;\n ${body}\n}\n`);
  expect(err.code).toBe('ECONFIG_VALUE');
  expect(err.line).toBe(3);
  expect(err.column).toBe(body.indexOf('"') + 2);
  expect(err.lines![0].message).toContain(detail);
});

test('a key file that holds no key, a CA file that holds no certificate', () => {
  expect(reject(rs(`tls_key = "${certs.ca}";`)).lines![0].message).toContain('holds no PEM private key');
  expect(reject(rs(`tls_ca = "${certs.clientKey}";`)).lines![0].message).toContain('holds no PEM certificate');
});

test.each([
  ['tls = on;', '`tls = on` needs `tls_ca` or `tls_pin`'],
  [`tls_pin = "${'sha256:' + 'a'.repeat(64)}";`, 'tls_* keys need `tls = on`'],
  [`tls = on; tls_pin = "sha256:${'a'.repeat(64)}"; tls_cert = "CERT";`, '`tls_cert` and `tls_key` go together'],
])('cross-checks at the section end: %s', (body, detail) => {
  const err = reject(rs(body.replace('CERT', certs.clientCert)));
  expect(err.code).toBe('ECONFIG_SECTION');
  expect(err.lines![0].message).toContain(detail);
});

test('a client key that does not match its certificate is refused when the file is read', () => {
  // the server's key with the client's certificate
  const err = reject(rs(`tls = on; tls_pin = "sha256:${'a'.repeat(64)}"; tls_cert = "${certs.clientCert}"; tls_key = "${certs.serverKey}";`));
  expect(err.code).toBe('ECONFIG_SECTION');
  expect(err.lines![0].message).toMatch(/tls_ca, tls_cert and tls_key do not make a TLS context: .*key values mismatch/);
});

test('tls = on needs a SOCKS upstream', () => {
  expect(reject(rs(`tls = on; tls_pin = "sha256:${'a'.repeat(64)}";`, 'http-connect')).lines![0].message).toContain('needs `type = socks5` or `socks4`');
});

describe('dns {} and redudp {}: the same keys, the same checks', () => {
  const dns = (body: string): string => `${BASE}dns { ip = 10.9.9.9; port = 1443; resolver_ip = 10.9.0.53; ${body} }\n`;
  const redudp = (body: string): string => `${BASE}redudp { local_port = 1053; ip = 10.9.9.9; port = 1443; dest_ip = 10.9.0.53; dest_port = 53; ${body} }\n`;
  const pin = (): string => `tls = on; tls_pin = "${certs.serverPin}";`;

  test('tls = on with a pin or a CA and a client certificate; off by default', () => {
    expect(parse(dns('')).config.dns[0]!.tls).toBeUndefined();
    expect(parse(redudp('')).config.redudp[0]!.tls).toBeUndefined();
    expect(parse(dns(pin())).config.dns[0]!.tls).toEqual({ pin: certs.serverPin.slice(7) });
    const u = parse(redudp(`tls = on; tls_ca = "${certs.ca}"; tls_cert = "${certs.clientCert}"; tls_key = "${certs.clientKey}"; tls_servername = proxy.example;`)).config.redudp[0]!.tls!;
    expect(u.ca).toContain('-----BEGIN CERTIFICATE-----');
    expect(u.key).toMatch(/PRIVATE KEY/);
    expect(u.servername).toBe('proxy.example');
  });

  test.each([
    ['dns', 'tls = on;', '`tls = on` needs `tls_ca` or `tls_pin`'],
    ['redudp', `tls_pin = "sha256:${'a'.repeat(64)}";`, 'tls_* keys need `tls = on`'],
    ['dns', `tls = on; tls_pin = "sha256:${'a'.repeat(64)}"; tls_key = "KEY";`, '`tls_cert` and `tls_key` go together'],
  ])('%s: cross-checks at the section end: %s', (section, body, detail) => {
    const text = (section === 'dns' ? dns : redudp)(body.replace('KEY', certs.clientKey));
    const err = reject(text);
    expect(err.code).toBe('ECONFIG_SECTION');
    expect(err.lines![0].message).toContain(detail);
  });

  test('an unreadable file is refused at its line and column', () => {
    const err = reject(`${BASE}redudp { ip = 10.9.9.9; port = 1443;\n tls = on; tls_ca = "/nonexistent/ca.pem";\n}\n`);
    expect(err.code).toBe('ECONFIG_VALUE');
    expect(err.line).toBe(3);
    expect(err.lines![0].message).toContain('tls_ca: cannot read /nonexistent/ca.pem');
  });

  test('sections that go to the same server must agree on tls (one listener speaks TLS or cleartext)', () => {
    const text = `${BASE}redsocks { type = socks5; ip = 10.9.9.9; port = 1443; ${pin()} }\n\ndns { ip = 10.9.9.9; port = 1443; resolver_ip = 10.9.0.53; }\n`;
    const err = reject(text);
    expect(err.code).toBe('ECONFIG_SECTION');
    expect(err.line).toBe(4);
    expect(err.lines![0].message).toBe('dns goes to 10.9.9.9:1443 without `tls = on`, but redsocks at line 2 goes there with it');
    // the same keys everywhere, or another port: accepted
    expect(parse(`${BASE}redsocks { type = socks5; ip = 10.9.9.9; port = 1443; ${pin()} }\ndns { ip = 10.9.9.9; port = 1443; resolver_ip = 10.9.0.53; ${pin()} }\nredudp { ip = 10.9.9.9; port = 1443; ${pin()} }\n`).config.redudp[0]!.tls).toBeDefined();
    expect(parse(`${BASE}redsocks { type = socks5; ip = 10.9.9.9; port = 1443; ${pin()} }\nredudp { ip = 10.9.9.9; port = 1080; }\n`).config.redudp[0]!.tls).toBeUndefined();
    expect(reject(`${BASE}redudp { ip = 10.9.9.9; port = 1443; ${pin()} }\nredudp { local_port = 2; ip = 10.9.9.9; port = 1443; }\n`).line).toBe(3);
  });
});
