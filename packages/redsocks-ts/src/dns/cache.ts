/**
 * The forwarder's answer cache (docs/dns.md): answers keyed by name, type, class and the bits
 * that change them (message.ts cacheKey), kept for their TTL (RFC 2181 §5.2; negative answers
 * RFC 2308 §5) and handed out with the TTLs aged by the time spent in the cache. Bounded:
 * the least recently used entry goes first. One per `dns {}` section.
 */
import { agedAnswer, answerFor, cacheKey, cacheTtl } from './message';

/** No answer is kept longer than a day, whatever its TTL says. */
const MAX_TTL_S = 86400;

interface Entry {
  answer: Buffer;
  stored: number;
  expires: number;
}

export class DnsCache {
  private readonly entries = new Map<string, Entry>();
  hits = 0;
  misses = 0;

  constructor(private readonly maxEntries: number, private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached answer to `query` (its ID and question, TTLs aged), or undefined. */
  get(query: Buffer): Buffer | undefined {
    if (this.maxEntries === 0) return undefined;
    const key = cacheKey(query);
    const e = this.entries.get(key);
    const t = this.now();
    if (!e || e.expires <= t) {
      if (e) this.entries.delete(key);
      this.misses++;
      return undefined;
    }
    // most recently used last
    this.entries.delete(key);
    this.entries.set(key, e);
    this.hits++;
    return answerFor(query, agedAnswer(e.answer, Math.floor((t - e.stored) / 1000)));
  }

  /** Keeps `answer` for its TTL (nothing when it has none). */
  put(query: Buffer, answer: Buffer): void {
    if (this.maxEntries === 0) return;
    const ttl = Math.min(cacheTtl(answer), MAX_TTL_S);
    if (ttl <= 0) return;
    const key = cacheKey(query);
    const t = this.now();
    this.entries.delete(key);
    this.entries.set(key, { answer, stored: t, expires: t + ttl * 1000 });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  clear(): void {
    this.entries.clear();
  }
}
