/** The TLS extension keys of `redsocks { }` (docs/tls.md): read, cross-checked, refused with line and column. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeTestCerts, type TestCerts } from '@mptcp-proxy/lab';
import { parse, reject, rs } from './helpers';

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

test('tls = on needs a SOCKS upstream', () => {
  expect(reject(rs(`tls = on; tls_pin = "sha256:${'a'.repeat(64)}";`, 'http-connect')).lines![0].message).toContain('needs `type = socks5` or `socks4`');
});
