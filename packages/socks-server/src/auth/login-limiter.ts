/**
 * Failed RFC 1929 logins per source (our extension `extension.auth.failures: N/S`, default
 * 10/60): after N failures within S seconds, every login from that source is refused without
 * looking at the password until the oldest failure is S seconds old. IPv6 sources count per
 * /64, since one host usually owns the whole prefix. Lives in SharedState (kept across SIGHUP).
 */
import { ipBytes } from '../config/ip';

export interface FailureLimit {
  count: number;
  seconds: number;
}

export const DEFAULT_FAILURE_LIMIT: FailureLimit = { count: 10, seconds: 60 };

/** Sources tracked at most; the oldest entries go first beyond it (bounded memory under a flood). */
const MAX_SOURCES = 65536;

export function sourceKey(address: string): string {
  const b = ipBytes(address);
  if (b === undefined || b.length === 4) return b ? b.join('.') : address;
  return b.slice(0, 8).map((x) => x.toString(16).padStart(2, '0')).join('') + '::/64';
}

export class LoginLimiter {
  /** Failure times (ms) per source, oldest first. */
  private readonly failures = new Map<string, number[]>();

  /** May `address` try a password now? */
  allowed(address: string, limit: FailureLimit, now = Date.now()): boolean {
    if (limit.count === 0) return true;
    const list = this.recent(sourceKey(address), limit, now);
    return list === undefined || list.length < limit.count;
  }

  failed(address: string, limit: FailureLimit, now = Date.now()): void {
    if (limit.count === 0) return;
    const key = sourceKey(address);
    const list = this.recent(key, limit, now) ?? [];
    list.push(now);
    if (list.length > limit.count) list.splice(0, list.length - limit.count);
    this.failures.delete(key); // re-insert: the map stays ordered by last failure
    this.failures.set(key, list);
    if (this.failures.size > MAX_SOURCES) this.failures.delete(this.failures.keys().next().value as string);
  }

  get size(): number {
    return this.failures.size;
  }

  /** Drops failures older than the window; undefined when none are left. */
  private recent(key: string, limit: FailureLimit, now: number): number[] | undefined {
    const list = this.failures.get(key);
    if (list === undefined) return undefined;
    const from = now - limit.seconds * 1000;
    let i = 0;
    while (i < list.length && list[i] <= from) i++;
    if (i > 0) list.splice(0, i);
    if (list.length === 0) {
      this.failures.delete(key);
      return undefined;
    }
    return list;
  }
}
