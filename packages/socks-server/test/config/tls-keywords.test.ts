/** The TLS extension keywords of danted.conf (docs/tls.md): read, cross-checked, refused with file:line. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeTestCerts, type TestCerts } from '@mptcp-proxy/lab';
import { parseDantedConfig, type DantedConfig } from 'socks-server';
import { ConfigError } from '@mptcp-proxy/common';

let certs: TestCerts;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-kw-'));
beforeAll(() => {
  certs = makeTestCerts(dir, '127.0.0.1');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const HEAD = 'internal: 127.0.0.1 port = 1080\nexternal: 127.0.0.1\nsocksmethod: none\n';
const parse = (text: string): DantedConfig => parseDantedConfig(HEAD + text, 't.conf').config;
function refuse(text: string): ConfigError {
  try {
    parse(text);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('accepted');
}

test('listeners, certificate, key and client CA', () => {
  const t = parse(`extension.tls.internal: 127.0.0.1 port = 1443\nextension.tls.internal: ::1 port = 1443\nextension.tls.cert: ${certs.serverCert}\nextension.tls.key: ${certs.serverKey}\nextension.tls.clientca: ${certs.ca}\n`).ext.tls;
  expect(t.internal.map((x) => [x.host, x.port, x.at.line])).toEqual([['127.0.0.1', 1443, 4], ['::1', 1443, 5]]);
  expect(t.cert?.pem).toContain('BEGIN CERTIFICATE');
  expect(t.key?.at).toEqual({ line: 7, col: 20, text: certs.serverKey });
  expect(t.clientCa?.pem).toContain('BEGIN CERTIFICATE');
  expect(parse('').ext.tls).toEqual({ internal: [] });
});

test.each([
  ['extension.tls.internal: 127.0.0.1 port = 1443\n', 4, 'extension.tls.internal needs extension.tls.cert and extension.tls.key'],
  ['extension.tls.cert: CERT\n', 4, 'extension.tls.cert, .key and .clientca need an extension.tls.internal listener'],
  ['extension.tls.cert: /nonexistent.pem\n', 4, 'cannot read /nonexistent.pem'],
  ['extension.tls.internal: localhost port = 1443\n', 4, 'extension.tls.internal wants an IP address, not "localhost"'],
  ['extension.tls.internal: 127.0.0.1 port = 1443\nextension.tls.cert: CERT\nextension.tls.key: OTHERKEY\n', 6, 'do not make a TLS context'],
])('refused with the line: %s', (text, line, detail) => {
  const e = refuse(text.replace('CERT', certs.serverCert).replace('OTHERKEY', certs.clientKey));
  expect(e.line).toBe(line);
  expect(e.detail).toContain(detail);
});
