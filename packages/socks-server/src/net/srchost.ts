/**
 * Dante's `srchost:` checks on a new client, before the client-rules: `nodnsunknown` refuses
 * an address without a reverse DNS name, `nodnsmismatch` one whose name does not resolve back
 * to it. The names found are handed to the client-rules (a `from:` hostname or `.domain` can
 * then match), as Dante does.
 */
import { promises as dns } from 'node:dns';

export interface SrcHostVerdict {
  /** Why the client is refused, or undefined. */
  refused?: string;
  names: string[];
}

const TIMEOUT_MS = 10_000;

function withTimeout<T>(p: Promise<T>, fallback: T): Promise<T> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(fallback), TIMEOUT_MS);
    p.then((v) => {
      clearTimeout(t);
      resolve(v);
    }, () => {
      clearTimeout(t);
      resolve(fallback);
    });
  });
}

export async function checkSrcHost(address: string, checks: readonly string[]): Promise<SrcHostVerdict> {
  const ip = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  const names = await withTimeout(dns.reverse(ip), [] as string[]);
  if (names.length === 0) {
    return checks.includes('nodnsunknown') ? { refused: `srchost: no DNS name for ${ip} (nodnsunknown)`, names } : { names };
  }
  if (checks.includes('nodnsmismatch')) {
    const back = await Promise.all(names.map((n) => withTimeout(dns.lookup(n, { all: true }), [])));
    const matches = back.some((list) => list.some((a) => a.address === ip));
    if (!matches) return { refused: `srchost: ${names[0]} does not resolve back to ${ip} (nodnsmismatch)`, names };
  }
  return { names };
}
