/**
 * A warm pool of idle, already-established MPTCP connections to the proxy (docs/optimistic-connect.md §8).
 * Each connection carries exactly one SOCKS stream: `take()` removes it for good and a
 * replacement is opened in the background. Idle connections are closed after
 * `pool_idle_timeout`, which must stay below the server's negotiate timeout. Nothing is sent
 * on an idle connection (docs/optimistic-connect.md, "Warm pool"), so it has one subflow until
 * a stream's first bytes make the kernel join the others.
 *
 * Self-sizing (`pool_size = auto`, packages/redsocks-ts/docs/fast-by-default.md §3): the target
 * is the largest number of connections asked for within BURST_MS over the last HISTORY_MS
 * (a browser opens up to 6 per origin at once), between AUTO_FLOOR and AUTO_CAP; a smaller
 * target lets surplus connections expire without replacement. The idle timeout is learned from
 * a server that closes unused pooled connections: closed at age T, later ones are retired at
 * T - max(2 s, T / 10).
 */
import type * as net from 'node:net';
import { MIN_LIFE_MS, Refill, type Life } from './refill';

export interface PoolStats {
  /** Target size: the configured one, or what self-sizing chose. */
  size: number;
  /** Established and ready to hand out. */
  idle: number;
  /** Being opened. */
  pending: number;
  /** dial() served from the pool. */
  hits: number;
  /** dial() that found the pool empty. */
  misses: number;
  /** Connections opened to replace one that was used, expired or lost. */
  refills: number;
  /** Every connection the pool opened (initial fill + refills). */
  opened: number;
  /** Closed after pool_idle_timeout. */
  expired: number;
  /** Closed by the peer, or dropped because their path went down. */
  dropped: number;
  /** Opens that failed. */
  failures: number;
  /** Idle connections are retired after this long (configured, or learned from the server). */
  idleTimeoutMs: number;
  /** The size follows demand (`pool_size = auto`). */
  auto: boolean;
  /** Idle connections by the WAN path of their initial subflow (set by the dialer with paths). */
  idleByPath?: Record<string, number>;
}

export interface PooledConn {
  socket: net.Socket;
  /** Name of the WAN path its initial subflow uses, if paths are configured. */
  path?: string;
  /** The MPTCP socket under `socket` when a layer (TLS) wraps it. */
  raw?: net.Socket;
}

export interface WarmPoolOptions {
  /** A fixed size, or 'auto' (self-sizing). */
  size: number | 'auto';
  /** The configured idle timeout (a server that closes sooner lowers it). */
  idleTimeoutMs: number;
  /** Opens one fresh connection (never from the pool). */
  open: () => Promise<PooledConn>;
  log?: { info(msg: string): void; error(msg: string): void };
}

interface Entry extends PooledConn {
  life: Life;
  timer?: NodeJS.Timeout;
  cleanup: () => void;
}

/**
 * A used connection is replaced this long after take(), not at once: the replacement's
 * connect, its SYN at the server and its SYN-ACK back here would otherwise coincide with the
 * stream's own CONNECT and response (same moment, one RTT apart) and delay both by the CPU
 * time of a new MPTCP connection on each side (~0.5-1 ms each, seen in captures).
 */
export const REFILL_DELAY_MS = 10;

/**
 * Self-sizing: the fewest connections kept, and the most. The floor is a browser's first wave
 * (6 connections to one origin within ~20 ms, and 6 per load of a one-origin page:
 * docs/lab.md, "The browser's burst against the warm pool"), so a page's first burst is
 * served from the pool; the cap covers the ~16 asked for within a burst on a many-origin page.
 */
export const AUTO_FLOOR = 6;
export const AUTO_CAP = 16;
/** Connections asked for within this long count as one burst. */
export const BURST_MS = 1000;
/** How long a burst keeps the target up. */
export const HISTORY_MS = 180_000;
/** An unused connection closed by the server younger than this says nothing about its timeout. */
const LEARN_MIN_AGE_MS = MIN_LIFE_MS;

/** The idle timeout to use for a server that closed an unused connection at age `ageMs`. */
export function learnedIdleTimeout(ageMs: number): number {
  return Math.max(0, ageMs - Math.max(2000, ageMs / 10));
}

export class WarmPool {
  private readonly entries: Entry[] = [];
  private readonly refill: Refill<PooledConn>;
  private initialLeft: number;
  private lastTakeAt = 0;
  private readonly waiters: Array<() => void> = [];
  private readonly counters = { hits: 0, misses: 0, refills: 0, opened: 0, expired: 0, dropped: 0 };
  /** Times of recent dial() calls (take or miss), for self-sizing. */
  private demands: number[] = [];
  /** Burst sizes seen (time, connections within BURST_MS), the last HISTORY_MS. */
  private bursts: Array<{ at: number; n: number }> = [];
  private target: number;
  private idleMs: number;

  constructor(private readonly opts: WarmPoolOptions) {
    this.target = opts.size === 'auto' ? AUTO_FLOOR : opts.size;
    this.initialLeft = this.target;
    this.idleMs = opts.idleTimeoutMs;
    this.refill = new Refill<PooledConn>({
      deficit: () => this.target - this.entries.length,
      open: () => opts.open(),
      keep: (conn, life) => this.keep(conn, life),
      discard: (conn) => conn.socket.destroy(),
      failed: (why, retryMs) => this.opts.log?.error(`warm pool: connect failed (${why}); retry in ${retryMs} ms`),
    });
  }

  /** The idle timeout in use (the configured one, or lower when learned from the server). */
  idleTimeoutMs(): number {
    return this.idleMs;
  }

  start(): void {
    this.refill.fill();
  }

  stats(): PoolStats {
    return {
      size: this.target,
      idle: this.entries.length,
      pending: this.refill.opening,
      ...this.counters,
      failures: this.refill.failures,
      idleTimeoutMs: this.idleMs,
      auto: this.opts.size === 'auto',
    };
  }

  /**
   * Hands out one established connection, or undefined on a miss. Connections `accept` refuses
   * (on a path the dialer does not trust right now) are skipped: they stay pooled until their
   * path is dropped, they expire, or the path is trusted again. Of the others, the one with
   * the lowest `score` (the oldest on a tie).
   */
  take(accept: (c: PooledConn) => boolean = () => true, score: (c: PooledConn) => number = () => 0): PooledConn | undefined {
    this.demand();
    let i = -1;
    let best = Infinity;
    for (let j = 0; j < this.entries.length; j++) {
      const e = this.entries[j];
      if (e.socket.destroyed || !accept(e)) continue;
      const v = score(e);
      if (i < 0 || v < best) {
        i = j;
        best = v;
      }
    }
    if (i < 0) {
      this.counters.misses++;
      this.refill.fill();
      return undefined;
    }
    const [e] = this.entries.splice(i, 1);
    e.cleanup();
    e.life.used();
    this.counters.hits++;
    e.socket.ref();
    e.socket.pause();
    // One take: the replacement waits REFILL_DELAY_MS. A burst (a take within REFILL_DELAY_MS
    // of the last one, or a miss) gets its replacements at once.
    const now = Date.now();
    if (now - this.lastTakeAt < REFILL_DELAY_MS) this.refill.fill();
    else this.refill.fillAfter(REFILL_DELAY_MS);
    this.lastTakeAt = now;
    return { socket: e.socket, path: e.path, raw: e.raw };
  }

  /**
   * Closes every pooled connection whose initial subflow is on `path`, or (opened before the
   * paths were known, `paths = auto` at start) comes from its `source` address.
   */
  dropPath(path: string, source?: string): number {
    return this.dropWhere(
      (c) => c.path === path || (c.path === undefined && source !== undefined && c.socket.localAddress === source),
      () => `on path ${path}`,
    );
  }

  /** Closes every pooled connection `which` picks (`why()` ends the log line), then refills. */
  dropWhere(which: (c: PooledConn) => boolean, why: () => string): number {
    const victims = this.entries.filter((e) => which(e));
    for (const e of victims) this.discard(e, 'dropped');
    if (victims.length > 0) {
      this.opts.log?.info(`warm pool: closed ${victims.length} idle connection(s) ${why()}`);
      this.refill.fill();
    }
    return victims.length;
  }

  /** Idle connections counted by `key` (e.g. their path); those it gives no key are left out. */
  idleBy(key: (c: PooledConn) => string | undefined): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of this.entries) {
      const k = key(e);
      if (k !== undefined) out.set(k, (out.get(k) ?? 0) + 1);
    }
    return out;
  }

  /** Resolves when `size` connections are established (used by tests and the demo). */
  whenFull(): Promise<void> {
    if (this.isFull()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.refill.stop();
    for (const e of [...this.entries]) {
      this.entries.splice(this.entries.indexOf(e), 1);
      e.cleanup();
      e.socket.destroy();
    }
    for (const w of this.waiters.splice(0)) w();
  }

  private isFull(): boolean {
    return this.entries.length >= this.target;
  }

  /** Self-sizing: one more connection asked for now; the target follows the largest recent burst. */
  private demand(): void {
    if (this.opts.size !== 'auto') return;
    const now = Date.now();
    this.demands.push(now);
    while (this.demands.length > 0 && this.demands[0] <= now - BURST_MS) this.demands.shift();
    if (this.demands.length > AUTO_CAP) this.demands.shift();
    this.bursts.push({ at: now, n: this.demands.length });
    while (this.bursts.length > 0 && this.bursts[0].at <= now - HISTORY_MS) this.bursts.shift();
    // bounded: a burst no larger than the one after it adds nothing
    if (this.bursts.length > 256) this.bursts = this.bursts.filter((b, i, a) => i === a.length - 1 || b.n > a[i + 1].n);
    const peak = this.bursts.reduce((m, b) => Math.max(m, b.n), 0);
    const next = Math.min(AUTO_CAP, Math.max(AUTO_FLOOR, peak));
    if (next !== this.target) {
      this.opts.log?.info(`warm pool: target ${this.target} -> ${next} (${peak} connection(s) asked for within ${BURST_MS} ms)`);
      this.target = next;
    }
  }

  /** A connection the refill opened: idle in the pool until taken, retired, or lost. */
  private keep(conn: PooledConn, life: Life): void {
    this.counters.opened++;
    if (this.initialLeft > 0) this.initialLeft--;
    else this.counters.refills++;

    const socket = conn.socket;
    const entry: Entry = { ...conn, life, cleanup: () => undefined };
    const born = Date.now();
    // Young and unused, any of these is a refusal for the back-off (refill.ts).
    const lost = (why: string): void => {
      life.ended(why);
      this.discard(entry, 'dropped');
    };
    const gone = (): void => lost('closed by the server');
    const spoke = (): void => lost('the server spoke first');
    // The server closed an unused connection: that is its idle (negotiate) timeout.
    const closedByServer = (): void => {
      this.learn(Date.now() - born);
      gone();
    };
    // The server never speaks first: any byte or EOF on an idle connection ends it.
    socket.on('data', spoke);
    socket.on('end', closedByServer);
    socket.on('close', gone);
    socket.on('error', gone);
    socket.unref();
    entry.cleanup = () => {
      socket.off('data', spoke);
      socket.off('end', closedByServer);
      socket.off('close', gone);
      socket.off('error', gone);
      if (entry.timer) clearTimeout(entry.timer);
    };
    this.entries.push(entry);
    if (this.idleMs > 0) {
      entry.timer = setTimeout(() => this.discard(entry, 'expired'), this.idleMs);
      entry.timer.unref();
    }
    if (this.isFull()) for (const w of this.waiters.splice(0)) w();
  }

  /** A server closed an unused pooled connection at age `ageMs`: retire later ones before that. */
  private learn(ageMs: number): void {
    if (ageMs < LEARN_MIN_AGE_MS) return;
    const next = learnedIdleTimeout(ageMs);
    if (next <= 0 || next >= this.idleMs) return;
    this.opts.log?.info(`warm pool: the server closed an unused connection after ${(ageMs / 1000).toFixed(1)} s; idle timeout ${this.idleMs / 1000} s -> ${next / 1000} s`);
    this.idleMs = next;
  }

  private discard(entry: Entry, why: 'dropped' | 'expired'): void {
    const i = this.entries.indexOf(entry);
    if (i < 0) return;
    this.entries.splice(i, 1);
    entry.cleanup();
    entry.socket.destroy();
    // kept for its whole idle life: the server accepts the pool's connections
    if (why === 'expired') entry.life.used();
    this.counters[why]++;
    this.refill.fill();
  }
}
