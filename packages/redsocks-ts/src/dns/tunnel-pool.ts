/**
 * The tunnels of one `dns {}` section (docs/dns.md): `connections` DnsTunnels kept open (a
 * closed one, e.g. by the resolver's idle timeout, is replaced at once, with a back-off while
 * opening fails). A query goes to the open tunnel with the fewest queries outstanding; if
 * that tunnel closes under it the query moves to another one, and a query still unanswered
 * after the hedge delay is also sent on a second tunnel (the first answer wins). When a WAN path
 * goes down or comes back, the tunnels are replaced one by one so that each new MPTCP
 * connection starts on a live path and gets a subflow over every live path.
 */
import { ProxyError, errorCode } from '@mptcp-proxy/common';
import type { DnsTunnel } from './tunnel';
import { Refill, type Life } from '../dial/refill';

/** A query unanswered this long is sent on a second tunnel too (when no WAN RTT is known). */
export const HEDGE_MS = 1000;

export interface TunnelPoolOptions {
  size: number;
  open(): Promise<DnsTunnel>;
  /** How long a query waits before it is also sent on a second tunnel, ms (default HEDGE_MS). */
  hedgeMs?: () => number;
  log: { info(msg: string): void; error(msg: string): void };
}

export interface TunnelPoolStats {
  open: number;
  opening: number;
  inflight: number;
  opened: number;
  failures: number;
  hedged: number;
  moved: number;
}

export class TunnelPool {
  private tunnels: DnsTunnel[] = [];
  private closed = false;
  private readonly refill: Refill<DnsTunnel>;
  private waiters: Array<() => void> = [];
  /** Tunnels replaced by refresh(): closed once they have no query left. */
  private retiring = new Set<DnsTunnel>();
  private readonly counters = { opened: 0, hedged: 0, moved: 0 };

  constructor(private readonly opts: TunnelPoolOptions) {
    this.refill = new Refill<DnsTunnel>({
      deficit: () => this.opts.size - this.tunnels.length,
      open: () => opts.open(),
      keep: (t, life) => this.keep(t, life),
      discard: (t) => t.close(),
      failed: (why, retryMs) => {
        this.opts.log.error(`dns: tunnel to the resolver failed (${why}); retry in ${retryMs} ms`);
        this.wake();
      },
    });
  }

  start(): void {
    this.refill.fill();
  }

  stats(): TunnelPoolStats {
    return {
      open: this.tunnels.length,
      opening: this.refill.opening,
      inflight: this.tunnels.reduce((n, t) => n + t.inflight, 0),
      ...this.counters,
      failures: this.refill.failures,
    };
  }

  /** Resolves once every tunnel is open (tests, benches' warm-up). */
  async whenFull(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.tunnels.length < this.opts.size && !this.closed) {
      if (Date.now() >= end) throw new ProxyError('EDNS_TUNNEL', `only ${this.tunnels.length} of ${this.opts.size} DNS tunnels opened within ${timeoutMs} ms`);
      await this.nextChange(end - Date.now());
    }
  }

  /**
   * The answer to `query` by `deadline` (epoch ms). Rejects with EDNS_TIMEOUT when the deadline
   * passes, or with the last tunnel error when no tunnel could be opened by then.
   */
  query(query: Buffer, deadline: number): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      let done = false;
      let running = 0;
      let lastErr: unknown;
      const used = new Set<DnsTunnel>();
      const attempt = async (avoid: Set<DnsTunnel>): Promise<void> => {
        running++;
        try {
          while (!done && Date.now() < deadline) {
            const t = this.pick(avoid) ?? (await this.waitReady(deadline, avoid));
            if (!t || done) break;
            used.add(t);
            try {
              const answer = await t.query(query, deadline - Date.now());
              if (!done) {
                done = true;
                clearTimeout(hedge);
                resolve(answer);
              }
              return;
            } catch (err) {
              lastErr = err;
              if (errorCode(err) === 'EDNS_TIMEOUT') break;
              // the tunnel closed under the query: another one takes it
              this.counters.moved++;
            }
          }
        } catch (err) {
          lastErr = err;
        } finally {
          running--;
        }
        if (running === 0 && !done) {
          done = true;
          clearTimeout(hedge);
          reject(lastErr ?? new ProxyError('EDNS_TIMEOUT', 'no DNS tunnel answered in time'));
        }
      };
      const hedge = setTimeout(() => {
        if (done || !this.tunnels.some((t) => t.ready && !used.has(t))) return;
        this.counters.hedged++;
        void attempt(new Set(used));
      }, Math.min(this.opts.hedgeMs?.() ?? HEDGE_MS, Math.max(0, deadline - Date.now())));
      hedge.unref();
      void attempt(new Set());
    });
  }

  /**
   * Replaces every tunnel, one new one first for each old one, so queries keep flowing; an old
   * tunnel is closed once its outstanding queries are answered. Called on WAN path changes.
   */
  refresh(why: string): void {
    if (this.closed || this.tunnels.length === 0) return;
    this.opts.log.info(`dns: replacing ${this.tunnels.length} tunnel(s): ${why}`);
    for (const t of this.tunnels) this.retiring.add(t);
    this.tunnels = [];
    this.refill.fill();
  }

  close(): void {
    this.closed = true;
    this.refill.stop();
    for (const t of [...this.tunnels, ...this.retiring]) t.close();
    this.tunnels = [];
    this.retiring.clear();
    this.wake();
  }

  /** Closes the old tunnels that have no query left, once their replacements are all open. */
  private retireIdle(): void {
    if (this.tunnels.length < this.opts.size) return;
    for (const t of [...this.retiring]) {
      if (t.inflight > 0) continue;
      this.retiring.delete(t);
      t.close();
    }
  }

  private pick(avoid: Set<DnsTunnel>): DnsTunnel | undefined {
    let best: DnsTunnel | undefined;
    for (const t of this.tunnels) {
      if (!t.ready || avoid.has(t)) continue;
      if (!best || t.inflight < best.inflight) best = t;
    }
    // a retiring tunnel still serves while no new one is open
    if (!best) for (const t of this.retiring) if (t.ready && !avoid.has(t) && (!best || t.inflight < best.inflight)) best = t;
    return best;
  }

  private async waitReady(deadline: number, avoid: Set<DnsTunnel>): Promise<DnsTunnel | undefined> {
    for (;;) {
      const t = this.pick(avoid);
      if (t || this.closed || Date.now() >= deadline) return t;
      await this.nextChange(deadline - Date.now());
    }
  }

  private nextChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, ms));
      timer.unref();
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** A tunnel the refill opened: used once it answers a query; closed young and unused, a failure. */
  private keep(t: DnsTunnel, life: Life): void {
    this.counters.opened++;
    this.tunnels.push(t);
    t.on('idle', () => {
      life.used();
      if (this.retiring.has(t)) this.retireIdle();
      this.wake();
    });
    t.once('close', (err?: Error) => {
      // retired by refresh() or close(): our doing, not a refusal
      if (this.retiring.has(t) || this.closed) life.used();
      else life.ended(err ? `closed: ${err.message}` : 'closed by the server');
      this.retiring.delete(t);
      const i = this.tunnels.indexOf(t);
      if (i >= 0) this.tunnels.splice(i, 1);
      this.refill.fill();
      this.wake();
    });
    // With replacements open, old tunnels have served their turn.
    this.retireIdle();
    this.wake();
  }
}
