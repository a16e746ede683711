import { lookup } from 'node:dns';
import { isIP } from 'node:net';
import { ProxyError } from '@mptcp-proxy/common';

export interface Resolved {
  address: string;
  family: 4 | 6;
}

/**
 * getaddrinfo with a deadline (Dante resolves names itself; a hung resolver
 * must not hold the client forever). `family` restricts the answer when the
 * external side only speaks one protocol.
 */
export function resolveHost(host: string, timeoutMs: number, family: 0 | 4 | 6 = 0): Promise<Resolved> {
  const ip = isIP(host);
  if (ip !== 0) return Promise.resolve({ address: host, family: ip as 4 | 6 });
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = timeoutMs > 0
      ? setTimeout(() => {
        done = true;
        reject(new ProxyError('ETIMEDOUT', `resolving ${host} timed out`));
      }, timeoutMs)
      : undefined;
    lookup(host, { family }, (err, address, fam) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      if (err) {
        const e = new ProxyError(err.code === 'ENOTFOUND' ? 'EHOSTUNREACH' : (err.code ?? 'EHOSTUNREACH'),
          `could not resolve ${host}: ${err.message}`, { cause: err });
        reject(e);
      } else resolve({ address, family: fam as 4 | 6 });
    });
  });
}
