/**
 * A warm pool of idle, already-established MPTCP connections to the proxy (docs/optimistic-connect.md §8).
 * Each connection carries exactly one SOCKS stream: `take()` removes it for good and a
 * replacement is opened in the background. Idle connections are closed after
 * `pool_idle_timeout`, which must stay below the server's negotiate timeout. Nothing is sent
 * on an idle connection (docs/optimistic-connect.md, "Warm pool"), so it has one subflow until
 * a stream's first bytes make the kernel join the others.
 */
import type * as net from 'node:net';

export interface PoolStats {
  /** Configured size. */
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
}

export interface PooledConn {
  socket: net.Socket;
  /** Name of the WAN path its initial subflow uses, if paths are configured. */
  path?: string;
}

export interface WarmPoolOptions {
  size: number;
  idleTimeoutMs: number;
  /** Opens one fresh connection (never from the pool). */
  open: () => Promise<PooledConn>;
  log?: { info(msg: string): void; error(msg: string): void };
}

interface Entry extends PooledConn {
  timer?: NodeJS.Timeout;
  cleanup: () => void;
}

const MAX_BACKOFF_MS = 5000;
/**
 * A used connection is replaced this long after take(), not at once: the replacement's
 * connect, its SYN at the server and its SYN-ACK back here would otherwise coincide with the
 * stream's own CONNECT and response (same moment, one RTT apart) and delay both by the CPU
 * time of a new MPTCP connection on each side (~0.5-1 ms each, seen in captures).
 */
export const REFILL_DELAY_MS = 10;

export class WarmPool {
  private readonly entries: Entry[] = [];
  private opening = 0;
  private closed = false;
  private backoffMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private refillTimer: NodeJS.Timeout | undefined;
  private initialLeft: number;
  private readonly waiters: Array<() => void> = [];
  private readonly counters = { hits: 0, misses: 0, refills: 0, opened: 0, expired: 0, dropped: 0, failures: 0 };

  constructor(private readonly opts: WarmPoolOptions) {
    this.initialLeft = opts.size;
  }

  start(): void {
    this.fill();
  }

  stats(): PoolStats {
    return {
      size: this.opts.size,
      idle: this.entries.length,
      pending: this.opening,
      ...this.counters,
    };
  }

  /** Hands out one established connection, or undefined on a miss. */
  take(): PooledConn | undefined {
    const i = this.entries.findIndex((e) => !e.socket.destroyed);
    if (i < 0) {
      this.counters.misses++;
      return undefined;
    }
    const [e] = this.entries.splice(i, 1);
    e.cleanup();
    this.counters.hits++;
    e.socket.ref();
    e.socket.pause();
    this.fillSoon();
    return { socket: e.socket, path: e.path };
  }

  /** Closes every pooled connection whose initial subflow is on `path`. */
  dropPath(path: string): number {
    const victims = this.entries.filter((e) => e.path === path);
    for (const e of victims) this.discard(e, 'dropped');
    if (victims.length > 0) {
      this.opts.log?.info(`warm pool: closed ${victims.length} idle connection(s) on path ${path}`);
      this.fill();
    }
    return victims.length;
  }

  /** Resolves when `size` connections are established (used by tests and the demo). */
  whenFull(): Promise<void> {
    if (this.isFull()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.refillTimer) clearTimeout(this.refillTimer);
    for (const e of [...this.entries]) {
      this.entries.splice(this.entries.indexOf(e), 1);
      e.cleanup();
      e.socket.destroy();
    }
    for (const w of this.waiters.splice(0)) w();
  }

  private isFull(): boolean {
    return this.entries.length >= this.opts.size;
  }

  private fillSoon(): void {
    if (this.closed || this.refillTimer) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.fill();
    }, REFILL_DELAY_MS);
    this.refillTimer.unref();
  }

  private fill(): void {
    if (this.closed || this.retryTimer) return;
    while (this.entries.length + this.opening < this.opts.size) {
      this.opening++;
      void this.openOne();
    }
  }

  private async openOne(): Promise<void> {
    let conn: PooledConn;
    try {
      conn = await this.opts.open();
    } catch (err) {
      this.opening--;
      this.counters.failures++;
      this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs ? this.backoffMs * 2 : 100);
      this.opts.log?.error(`warm pool: connect failed (${(err as Error).message}); retry in ${this.backoffMs} ms`);
      if (!this.closed && !this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.fill();
        }, this.backoffMs);
        this.retryTimer.unref();
      }
      return;
    }
    this.opening--;
    this.backoffMs = 0;
    if (this.closed) {
      conn.socket.destroy();
      return;
    }
    this.counters.opened++;
    if (this.initialLeft > 0) this.initialLeft--;
    else this.counters.refills++;

    const socket = conn.socket;
    const entry: Entry = { ...conn, cleanup: () => undefined };
    const gone = (): void => this.discard(entry, 'dropped');
    // The server never speaks first: any byte or EOF on an idle connection ends it.
    socket.on('data', gone);
    socket.on('end', gone);
    socket.on('close', gone);
    socket.on('error', gone);
    socket.unref();
    entry.cleanup = () => {
      socket.off('data', gone);
      socket.off('end', gone);
      socket.off('close', gone);
      socket.off('error', gone);
      if (entry.timer) clearTimeout(entry.timer);
    };
    this.entries.push(entry);
    if (this.opts.idleTimeoutMs > 0) {
      entry.timer = setTimeout(() => this.discard(entry, 'expired'), this.opts.idleTimeoutMs);
      entry.timer.unref();
    }
    if (this.isFull()) for (const w of this.waiters.splice(0)) w();
  }

  private discard(entry: Entry, why: 'dropped' | 'expired'): void {
    const i = this.entries.indexOf(entry);
    if (i < 0) return;
    this.entries.splice(i, 1);
    entry.cleanup();
    entry.socket.destroy();
    this.counters[why]++;
    this.fill();
  }
}
