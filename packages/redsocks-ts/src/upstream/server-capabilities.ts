/**
 * What we learned about each SOCKS server's handling of pipelined input (docs/optimistic-connect.md,
 * "optimistic = auto"), keyed by "ip:port" and kept for `optimistic_cache_ttl` seconds. One per
 * daemon, shared by every `redsocks {}` section that names the same server; it outlives a reload.
 */
import { optimisticChannel } from '../events';

/**
 * - `oc`: the server picked the optimistic method (A5/A6): early data is safe to send.
 * - `pipeline`: a plain RFC 1928 server that answered a pipelined handshake correctly.
 * - `sequential`: the server broke on pipelined input; talk to it as redsocks does.
 */
export type ServerVerdict = 'oc' | 'pipeline' | 'sequential';

interface Entry {
  verdict: ServerVerdict;
  expires: number;
}

export class ServerCapabilities {
  private readonly entries = new Map<string, Entry>();

  get(key: string, now = Date.now()): ServerVerdict | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e.verdict;
  }

  set(key: string, verdict: ServerVerdict, ttlSeconds: number, now = Date.now()): void {
    this.entries.set(key, { verdict, expires: now + Math.max(0, ttlSeconds) * 1000 });
    if (optimisticChannel.hasSubscribers) optimisticChannel.publish({ server: key, verdict });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

export function serverKey(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
