/**
 * Test certificates for the TLS leg (docs/tls.md), made with openssl: a CA, a server
 * certificate for an IP address signed by it, a client certificate signed by it, and a
 * self-signed server certificate for pinning. EC P-256, valid one day.
 */
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second CA that signed nothing we use (a wrong CA). */
  otherCa: string;
  /** `sha256:HEX` of serverCert. */
  serverPin: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes the files in `dir`; `serverIp` goes in the server certificate's subjectAltName. */
export function makeTestCerts(dir: string, serverIp: string): TestCerts {
  fs.mkdirSync(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  for (const ca of ['ca', 'other-ca']) {
    openssl(['req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '1', '-subj', `/CN=${ca}`], dir);
  }
  const sign = (name: string, cn: string, ext: string): void => {
    openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
    fs.writeFileSync(path.join(dir, `${name}.ext`), `${ext}\n`);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', `${name}.pem`, '-extfile', `${name}.ext`], dir);
  };
  sign('server', 'socks-server', `subjectAltName=IP:${serverIp}\nextendedKeyUsage=serverAuth`);
  sign('client', 'gateway1', 'extendedKeyUsage=clientAuth');
  const der = new crypto.X509Certificate(fs.readFileSync(path.join(dir, 'server.pem'))).raw;
  const f = (n: string): string => path.join(dir, n);
  return {
    dir, ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'),
    clientKey: f('client.key'), otherCa: f('other-ca.pem'), serverPin: `sha256:${crypto.createHash('sha256').update(der).digest('hex')}`,
  };
}
