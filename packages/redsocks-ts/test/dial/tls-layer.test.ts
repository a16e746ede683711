/**
 * The dialer's TLS layer (dial/tls-layer.ts) against a real TLS 1.3 server on loopback: CA and
 * pin checks, mutual authentication, and session resumption of later connections.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { makeTestCerts, type TestCerts } from '@mptcp-proxy/lab';
import { TlsLayer } from '../../src/dial/tls-layer';

let certs: TestCerts;
let server: tls.Server;
let port: number;
const seen: Array<{ resumed: boolean; clientCn?: string }> = [];
const read = (f: string): string => fs.readFileSync(f, 'utf8');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-layer-'));

beforeAll(async () => {
  certs = makeTestCerts(dir, '127.0.0.1');
  server = tls.createServer({ cert: read(certs.serverCert), key: read(certs.serverKey), ca: read(certs.ca), requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, (s) => {
    const peer = s.getPeerCertificate();
    seen.push({ resumed: s.isSessionReused(), clientCn: s.authorized ? String(peer.subject?.CN) : undefined });
    s.end('hello');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(dir, { recursive: true, force: true });
});

const raw = (): Promise<net.Socket> => new Promise((resolve, reject) => {
  const s = net.connect(port, '127.0.0.1', () => resolve(s));
  s.once('error', reject);
});

async function talk(layer: TlsLayer): Promise<string> {
  const t = await layer.wrap(await raw(), 5000);
  expect(t.getProtocol()).toBe('TLSv1.3');
  const parts: Buffer[] = [];
  t.on('data', (d: Buffer) => parts.push(d));
  await new Promise((r) => t.once('end', r));
  t.destroy();
  return Buffer.concat(parts).toString();
}

test('CA check with the IP in the certificate; later connections resume the session', async () => {
  const layer = new TlsLayer({ ca: read(certs.ca) }, '127.0.0.1');
  seen.length = 0;
  for (let i = 0; i < 3; i++) expect(await talk(layer)).toBe('hello');
  expect(seen.map((x) => x.resumed)).toEqual([false, true, true]);
  expect(layer.stats).toEqual({ handshakes: 3, resumed: 2 });
});

test('a pin replaces the CA; a wrong pin or a wrong CA is refused with a stable code', async () => {
  expect(await talk(new TlsLayer({ pin: certs.serverPin.slice(7) }, '127.0.0.1'))).toBe('hello');
  await expect(new TlsLayer({ pin: '0'.repeat(64) }, '127.0.0.1').wrap(await raw(), 5000)).rejects.toMatchObject({ code: 'ETLS_PIN' });
  await expect(new TlsLayer({ ca: read(certs.otherCa) }, '127.0.0.1').wrap(await raw(), 5000)).rejects.toMatchObject({ code: 'SELF_SIGNED_CERT_IN_CHAIN' }); // the server sends its chain
  // the certificate names 127.0.0.1, not another address
  await expect(new TlsLayer({ ca: read(certs.ca) }, '127.0.0.2').wrap(await raw(), 5000)).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
});

test('mutual authentication: the client certificate reaches the server', async () => {
  seen.length = 0;
  const layer = new TlsLayer({ ca: read(certs.ca), cert: read(certs.clientCert), key: read(certs.clientKey) }, '127.0.0.1');
  expect(await talk(layer)).toBe('hello');
  expect(seen[0]).toEqual({ resumed: false, clientCn: 'gateway1' });
});

test('a server that does not answer the handshake: ETLS_TIMEOUT', async () => {
  const silent = net.createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const s = net.connect((silent.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  await expect(new TlsLayer({ ca: read(certs.ca) }, '127.0.0.1').wrap(s, 300)).rejects.toMatchObject({ code: 'ETLS_TIMEOUT' });
  silent.close();
});
