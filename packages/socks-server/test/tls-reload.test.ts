/**
 * A reload of socks-server's TLS settings (docs/tls.md, "Reload"), in process on loopback with
 * real TLS clients: a new certificate and key serve new connections, session tickets of the
 * old context no longer resume, a client CA added on reload is enforced, and TLS listeners that
 * would have to open or close refuse the reload with file:line while the old ones keep serving.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { dantedConf, makeTestCerts, tempDir, type TestCerts } from '@mptcp-proxy/lab';
import { nullLog, parseDantedConfig, startServer, type DantedConfig, type SocksServer } from 'socks-server';

let a: TestCerts;
let b: TestCerts;
let srv: SocksServer;
let port: number;

function conf(certs: TestCerts, extra: string[] = [], listen = [`127.0.0.1 port = ${port}`]): DantedConfig {
  return parseDantedConfig(dantedConf({ internal: undefined, port: 0, external: '127.0.0.1', tls: { listen, cert: certs.serverCert, key: certs.serverKey }, extra }), 'danted.conf').config;
}

const pinOf = (der: Buffer): string => `sha256:${crypto.createHash('sha256').update(der).digest('hex')}`;

interface Hello {
  pin: string;
  reused: boolean;
  session?: Buffer;
}

/** A TLS 1.3 handshake with the listener, then a SOCKS5 greeting answered (the connection is served). */
function hello(opts: { session?: Buffer; cert?: TestCerts } = {}): Promise<Hello> {
  return new Promise((resolve, reject) => {
    const t = tls.connect({
      host: '127.0.0.1', port, minVersion: 'TLSv1.3', rejectUnauthorized: false, session: opts.session,
      cert: opts.cert ? fs.readFileSync(opts.cert.clientCert) : undefined, key: opts.cert ? fs.readFileSync(opts.cert.clientKey) : undefined,
    });
    let session: Buffer | undefined;
    t.on('session', (s: Buffer) => (session = s));
    t.once('error', reject);
    t.once('secureConnect', () => {
      // a resumed session has no certificate of its own
      const raw = t.getPeerCertificate().raw as Buffer | undefined;
      const pin = raw ? pinOf(raw) : '(resumed)';
      const reused = t.isSessionReused();
      t.write(Buffer.from([5, 1, 0]));
      t.once('data', (d: Buffer) => {
        t.destroy();
        if (d[0] === 5 && d[1] === 0) resolve({ pin, reused, session });
        else reject(new Error(`no SOCKS5 method reply: ${d.toString('hex')}`));
      });
    });
    t.once('close', () => reject(new Error('closed before the SOCKS5 reply')));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

beforeAll(async () => {
  port = await freePort();
  const dir = tempDir('tls-reload-');
  a = makeTestCerts(path.join(dir, 'a'), '127.0.0.1');
  b = makeTestCerts(path.join(dir, 'b'), '127.0.0.1');
  srv = await startServer(conf(a), { log: nullLog, tickMs: 50 });
});

afterAll(async () => {
  await srv?.close();
});

test('a TLS listener alone is a complete server (no plain internal:)', async () => {
  expect(srv.addresses()).toHaveLength(1);
  expect((await hello()).pin).toBe(a.serverPin);
});

test('a new certificate and key serve new connections; tickets of the old context do not resume', async () => {
  // the session ticket arrives after the handshake: a second connection resumes with it
  let first = await hello();
  for (let i = 0; i < 5 && first.session === undefined; i++) first = await hello();
  expect(first.session).toBeDefined();
  const resumed = await hello({ session: first.session });
  expect(resumed.reused).toBe(true);
  await srv.reload(conf(b));
  expect(await hello()).toMatchObject({ pin: b.serverPin, reused: false });
  // resumption would skip the certificate (and a client CA's check): the old ticket is refused
  expect(await hello({ session: first.session })).toMatchObject({ pin: b.serverPin, reused: false });
});

test('a client CA added on reload is enforced on new connections', async () => {
  await srv.reload(conf(b, [`extension.tls.clientca: ${a.ca}`]));
  await expect(hello()).rejects.toThrow();
  expect((await hello({ cert: a })).pin).toBe(b.serverPin);
  await srv.reload(conf(b));
  expect((await hello()).pin).toBe(b.serverPin);
});

test('adding, moving or removing a TLS listener refuses the reload with file:line; the old context keeps serving', async () => {
  const moved = conf(a, [], [`127.0.0.2 port = ${port}`]);
  await expect(srv.reload(moved)).rejects.toMatchObject({ code: 'ERELOAD_TLS', message: `danted.conf:2: extension.tls.internal: 127.0.0.2 port = ${port} is new: TLS listeners open at start only (restart to add one)` });
  const extra = conf(a, [], [`127.0.0.1 port = ${port}`, `127.0.0.1 port = ${port + 1}`]);
  await expect(srv.reload(extra)).rejects.toMatchObject({ code: 'ERELOAD_TLS', message: expect.stringContaining(`danted.conf:3: extension.tls.internal: 127.0.0.1 port = ${port + 1} is new`) });
  const plainOnly = parseDantedConfig(dantedConf({ internal: '127.0.0.1', port: port + 2 }), 'danted.conf').config;
  await expect(srv.reload(plainOnly)).rejects.toMatchObject({ code: 'ERELOAD_TLS', message: expect.stringContaining(`danted.conf:2: extension.tls.internal: 127.0.0.1 port = ${port} is no longer in the file`) });
  // nothing of the refused configs took effect: still certificate b, still served
  expect((await hello()).pin).toBe(b.serverPin);
  expect(srv.config.ext.tls.cert!.pem).toBe(fs.readFileSync(b.serverCert, 'utf8'));
  expect(net.isIP(srv.addresses()[0]!.address)).toBe(4);
});
