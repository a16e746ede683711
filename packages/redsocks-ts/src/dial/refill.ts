/**
 * Keeps a set of upstream connections topped up, with a back-off while they fail: the warm
 * pool's idle connections (warm-pool.ts) and a `dns {}` section's tunnels (dns/tunnel-pool.ts).
 *
 * A connection counts as a success only once it has proven itself (packages/redsocks-ts/docs/
 * fast-by-default.md §3, "Refill and back-off"): it was used, or it lived at least MIN_LIFE_MS.
 * One that opened and then ended younger than that without being used (a TLS or SOCKS
 * handshake refused, a server that accepts and closes at once, bytes from a server that must
 * stay silent) is a failure like a refused connect, so such a server is not hammered.
 * One back-off step per round: the connections of one fill() that fail together double the
 * delay once.
 */

export const MIN_BACKOFF_MS = 100;
export const MAX_BACKOFF_MS = 5000;
/** An unused connection that ended younger than this was refused, not timed out. */
export const MIN_LIFE_MS = 1000;

/** What the owner reports about one connection the refill opened (each call counts once). */
export interface Life {
  /** It carried (or started to carry) what it was opened for. */
  used(): void;
  /** It closed, errored or was refused before use; young, this is a failure. */
  ended(why: string): void;
}

export interface RefillOptions<T> {
  /** How many more the owner wants now (not counting those being opened). */
  deficit(): number;
  open(): Promise<T>;
  /** A connection opened while running; the owner keeps it and reports its life. */
  keep(conn: T, life: Life): void;
  /** A connection that opened after stop(). */
  discard(conn: T): void;
  /** An open failed or a young connection ended: log it; the next round starts in `retryMs`. */
  failed(why: string, retryMs: number): void;
}

export class Refill<T> {
  /** Opens in flight. */
  opening = 0;
  /** Opens that failed plus connections that ended young and unused. */
  failures = 0;
  private backoffMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private soonTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly o: RefillOptions<T>) {}

  /** The current back-off (0 after a success). */
  get backoff(): number {
    return this.backoffMs;
  }

  /** Opens what the owner lacks, unless a back-off is running. */
  fill(): void {
    if (this.stopped || this.retryTimer) return;
    for (let n = this.o.deficit() - this.opening; n > 0; n--) {
      this.opening++;
      void this.openOne();
    }
  }

  /** fill() in `ms` (one pending at a time). */
  fillAfter(ms: number): void {
    if (this.stopped || this.soonTimer) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      this.fill();
    }, ms);
    this.soonTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.soonTimer) clearTimeout(this.soonTimer);
    this.retryTimer = this.soonTimer = undefined;
  }

  private async openOne(): Promise<void> {
    let conn: T;
    try {
      conn = await this.o.open();
    } catch (err) {
      this.opening--;
      this.fail((err as Error).message);
      return;
    }
    this.opening--;
    if (this.stopped) {
      this.o.discard(conn);
      return;
    }
    const born = Date.now();
    let told = false;
    this.o.keep(conn, {
      used: () => {
        if (told) return;
        told = true;
        this.backoffMs = 0;
      },
      ended: (why) => {
        if (told) return;
        told = true;
        const age = Date.now() - born;
        if (age < MIN_LIFE_MS) this.fail(`${why} ${age} ms after it opened, unused`);
        else this.backoffMs = 0;
      },
    });
  }

  private fail(why: string): void {
    if (this.stopped) return;
    this.failures++;
    if (!this.retryTimer) {
      this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs ? this.backoffMs * 2 : MIN_BACKOFF_MS);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.fill();
      }, this.backoffMs);
      this.retryTimer.unref();
    }
    this.o.failed(why, this.backoffMs);
  }
}
