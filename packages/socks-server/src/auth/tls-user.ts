/**
 * A verified TLS client certificate as a SOCKS user (docs/tls.md): on a TLS listener with
 * extension.tls.clientca, the certificate the handshake verified names the user (its subject
 * CN), so the gateway needs no RFC 1929 password. Nothing here for a plain socket.
 */
import type * as net from 'node:net';
import type * as tls from 'node:tls';

export function tlsCertUser(socket: net.Socket): string | undefined {
  const s = socket as tls.TLSSocket;
  if (s.encrypted !== true || s.authorized !== true) return undefined;
  const cn = s.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' && cn !== '' ? cn : undefined;
}
