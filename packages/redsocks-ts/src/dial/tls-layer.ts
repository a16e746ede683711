/**
 * TLS 1.3 on the upstream connection (docs/tls.md): one more layer of the dialer, after the
 * MPTCP connect and before any protocol byte, so the protocols and the core see a socket like
 * any other. One TlsLayer per dialer keeps the secure context and the latest session ticket:
 * connections made on demand resume the session (no certificate exchange or check), and the
 * warm pool's connections finish their handshake before they are handed out.
 */
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { ProxyError, certPin } from '@mptcp-proxy/common';
import type { TlsClientConfig } from '../config/types';

export class TlsLayer {
  private readonly context: tls.SecureContext;
  private ticket: Buffer | undefined;
  /** Handshakes done, and how many of them resumed a session (the dump and tests read them). */
  readonly stats = { handshakes: 0, resumed: 0 };

  constructor(private readonly cfg: TlsClientConfig, private readonly host: string) {
    this.context = tls.createSecureContext({
      minVersion: 'TLSv1.3',
      ca: cfg.ca,
      cert: cfg.cert,
      key: cfg.key,
    });
  }

  /** TLS over `raw` (connected, or connecting with TFO); resolves once the handshake is done. */
  wrap(raw: net.Socket, timeoutMs?: number): Promise<tls.TLSSocket> {
    const { cfg } = this;
    return new Promise((resolve, reject) => {
      const t = tls.connect({
        socket: raw,
        secureContext: this.context,
        minVersion: 'TLSv1.3',
        session: this.ticket,
        // SNI only for a name; the certificate check below names what is checked
        servername: cfg.servername,
        // with a pin the chain is not what is trusted: checked in onSecure
        rejectUnauthorized: cfg.pin === undefined,
        checkServerIdentity: (_host, cert) => (cfg.pin !== undefined ? undefined : tls.checkServerIdentity(cfg.servername ?? this.host, cert)),
      });
      const timer = timeoutMs !== undefined ? setTimeout(() => t.destroy(tlsError('ETLS_TIMEOUT', `TLS handshake with ${this.host} took over ${timeoutMs} ms`)), timeoutMs) : undefined;
      timer?.unref();
      const fail = (err: Error): void => {
        if (timer) clearTimeout(timer);
        t.destroy();
        reject(err.message.startsWith('TLS') ? err : tlsError((err as NodeJS.ErrnoException).code ?? 'ETLS', `TLS handshake with ${this.host}: ${err.message}`));
      };
      t.on('session', (s: Buffer) => (this.ticket = s));
      t.once('error', fail);
      t.once('secureConnect', () => {
        if (timer) clearTimeout(timer);
        t.off('error', fail);
        if (cfg.pin !== undefined && !t.isSessionReused()) {
          const der = t.getPeerCertificate().raw;
          const got = der ? certPin(der) : '(no certificate)';
          if (got !== cfg.pin) {
            t.destroy();
            reject(tlsError('ETLS_PIN', `TLS: the certificate of ${this.host} has sha256 ${got}, not the pinned ${cfg.pin}`));
            return;
          }
        }
        this.stats.handshakes++;
        if (t.isSessionReused()) this.stats.resumed++;
        // the protocols end their side and keep reading: TLS 1.3 carries half-close
        t.allowHalfOpen = true;
        resolve(t);
      });
    });
  }
}

function tlsError(code: string, message: string): ProxyError {
  return new ProxyError(code, message);
}
