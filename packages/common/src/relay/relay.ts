/**
 * Bidirectional relay of two sockets built from two Pipes. It owns both sockets from construction:
 * an 'error' on either, an idle timeout or abort() destroys both and rejects `done` with a
 * RelayError carrying the byte counts. When both directions have ended (half-close both ways),
 * both sockets are destroyed and `done` resolves.
 * Directions may start at different times (optimistic connect streams a->b before the reply is
 * parsed; b->a starts after it, with the bytes read past the reply as `head`).
 */
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { fdOf, spliceRelay } from 'mptcp-native';
import type { SpliceError, SpliceHandle } from 'mptcp-native';
import { Pipe, PipeOptions } from './pipe';
import { RelayError } from '../errors';
import { SpliceBudget, debug, releaseNodeHandle, resumeNodeReading, spliceIneligible, stopNodeReading, takeBuffered, whenFlushed } from './splice-path';

export interface RelayOptions {
  /** Tear down after this long without a byte in either direction. */
  idleTimeoutMs?: number;
  onBytes?(dir: 'aToB' | 'bToA', n: number): void;
  /**
   * Once both directions have started (and neither has a tap), hand both sockets to the kernel:
   * splice(2) through pipes (mptcp-native). Falls back to the JS pipes silently when the sockets
   * or the addon do not allow it, or when `splice` (the daemon's fd budget for spliced relays)
   * is used up. `mode` tells which path runs. Absent = JS pipes only.
   */
  splice?: SpliceBudget;
  /**
   * With `splice`: switch only once this many bytes have moved (both directions together).
   * Short connections then never pay for the switch (dups, two pipes, a flush wait). 0 = at once
   * (the default; the daemons pass their budget's `policy.afterBytes`).
   */
  spliceAfterBytes?: number;
  /**
   * With `splice`: where the kernel relay runs. 'loop' (default): on the main loop beside Node's
   * sockets (uv_poll on dups). 'thread': on mptcp-native's relay thread, and Node's own handles
   * of both sockets are closed at the switch, so the main loop holds nothing for the connection
   * (the net.Sockets stay as objects: addresses, destroy(), 'close'). Default: `splice.policy.on`.
   */
  spliceOn?: 'loop' | 'thread';
}

/** How often a spliced relay's counters are read for onBytes and per-direction EOF. */
const SPLICE_POLL_MS = 1000;
/** Write-queue flushes to wait for (JS pipes running) before reads stop and the queues drain alone. */
const FLUSH_TRIES = 8;

export interface RelayResult {
  aToB: number;
  bToA: number;
}

export class Relay {
  readonly done: Promise<RelayResult>;
  private ab: Pipe | undefined;
  private ba: Pipe | undefined;
  private abDone = false;
  private baDone = false;
  private settled = false;
  private timer: NodeJS.Timeout | undefined;
  private startedAt = performance.now();
  private tapped = false;
  private spliceHandle: SpliceHandle | undefined;
  private spliceTimer: NodeJS.Timeout | undefined;
  private seen = { aToB: 0, bToA: 0 };
  private pathMode: 'js' | 'switching' | 'splice' = 'js';
  /** Waiting for spliceAfterBytes before switching. */
  private spliceArmed = false;
  /** switchToSplice() is waiting for Node's write queues (the JS pipes still run). */
  private switchPending = false;
  private resolve!: (r: RelayResult) => void;
  private reject!: (e: RelayError) => void;

  constructor(
    readonly a: Duplex,
    readonly b: Duplex,
    private readonly opts: RelayOptions = {},
  ) {
    this.done = new Promise<RelayResult>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.done.catch(() => undefined);
    a.on('error', this.onAError);
    b.on('error', this.onBError);
    if (opts.idleTimeoutMs !== undefined && opts.idleTimeoutMs > 0) this.armIdle(opts.idleTimeoutMs);
  }

  private get spliceAfter(): number {
    return this.opts.spliceAfterBytes ?? 0;
  }
  private get spliceOn(): 'loop' | 'thread' {
    return this.opts.spliceOn ?? this.opts.splice?.policy.on ?? 'loop';
  }

  /** 'js' (Node streams), 'switching' (handing over to the kernel) or 'splice'. */
  get mode(): 'js' | 'switching' | 'splice' {
    return this.pathMode;
  }

  get aToB(): number {
    this.syncSplice();
    return this.ab?.bytes ?? 0;
  }
  get bToA(): number {
    this.syncSplice();
    return this.ba?.bytes ?? 0;
  }
  /** performance.now() of the last byte in either direction (or of construction). */
  get lastActivity(): number {
    this.syncSplice();
    return Math.max(this.startedAt, this.ab?.lastActivity ?? 0, this.ba?.lastActivity ?? 0);
  }
  get aToBStarted(): boolean {
    return this.ab !== undefined;
  }
  get bToAStarted(): boolean {
    return this.ba !== undefined;
  }

  startAtoB(head?: Buffer, extra: Pick<PipeOptions, 'tap'> = {}): Pipe {
    if (this.ab) throw new RelayError('ERELAY_STATE', 'a->b already started');
    this.ab = this.startPipe(this.a, this.b, 'aToB', head, extra);
    this.maybeSplice(extra);
    return this.ab;
  }

  startBtoA(head?: Buffer, extra: Pick<PipeOptions, 'tap'> = {}): Pipe {
    if (this.ba) throw new RelayError('ERELAY_STATE', 'b->a already started');
    this.ba = this.startPipe(this.b, this.a, 'bToA', head, extra);
    this.maybeSplice(extra);
    return this.ba;
  }

  /** Destroys both sockets; `done` rejects with ERELAY_ABORTED (cause = `reason`). */
  abort(reason?: unknown): void {
    // Owners call this on every close: after settling, skip building an error (a stack trace).
    if (this.settled) return;
    this.teardown(new RelayError('ERELAY_ABORTED', 'relay aborted', undefined, reason));
  }

  private startPipe(src: Duplex, dst: Duplex, dir: 'aToB' | 'bToA', head: Buffer | undefined, extra: Pick<PipeOptions, 'tap'>): Pipe {
    const onBytes = this.opts.onBytes;
    const deferred = this.opts.splice !== undefined && this.spliceAfter > 0;
    const p = new Pipe(src, dst, {
      head,
      tap: extra.tap,
      onBytes:
        onBytes || deferred
          ? (n) => {
              if (onBytes) onBytes(dir, n);
              if (this.spliceArmed) this.checkSpliceThreshold();
            }
          : undefined,
    });
    if (this.settled) {
      p.fail(new RelayError('ERELAY_CLOSED', 'relay already finished'));
    }
    p.done.then(
      () => {
        if (dir === 'aToB') this.abDone = true;
        else this.baDone = true;
        if (this.abDone && this.baDone) this.finish();
      },
      (err: RelayError) => {
        const srcSide = dir === 'aToB' ? 'a' : 'b';
        const dstSide = dir === 'aToB' ? 'b' : 'a';
        if (err.side === 'src') err.side = srcSide;
        else if (err.side === 'dst') err.side = dstSide;
        this.teardown(err);
      },
    );
    return p;
  }

  private finish(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.stopSplice();
    this.a.destroy();
    this.b.destroy();
    this.resolve({ aToB: this.aToB, bToA: this.bToA });
  }

  private teardown(err: RelayError): void {
    if (this.settled) return;
    err.aToB = this.aToB;
    err.bToA = this.bToA;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.stopSplice();
    this.ab?.fail(new RelayError('ERELAY_ABORTED', 'relay torn down'));
    this.ba?.fail(new RelayError('ERELAY_ABORTED', 'relay torn down'));
    this.a.destroy();
    this.b.destroy();
    this.reject(err);
  }

  private maybeSplice(extra: Pick<PipeOptions, 'tap'>): void {
    if (extra.tap) this.tapped = true;
    if (!this.opts.splice || !this.ab || !this.ba || this.tapped || this.settled) return;
    if (this.spliceAfter > 0) {
      this.spliceArmed = true;
      this.checkSpliceThreshold();
      return;
    }
    // Deferred: the owner may still write (a reply) or resume() in the same tick.
    setImmediate(() => void this.switchToSplice());
  }

  private checkSpliceThreshold(): void {
    const { ab, ba } = this;
    if (!ab || !ba || this.settled || this.tapped) return;
    if (ab.bytes + ba.bytes < this.spliceAfter) return;
    this.spliceArmed = false;
    setImmediate(() => void this.switchToSplice());
  }

  private async switchToSplice(): Promise<void> {
    const { a, b, ab, ba } = this;
    if (this.settled || this.mode !== 'js' || this.switchPending || !ab || !ba) return;
    const sa = a as net.Socket;
    const sb = b as net.Socket;
    this.switchPending = true;
    try {
      // The JS pipes keep both directions moving while Node's write queues drain: stopping the
      // reads first could stall a peer that only reads once its own writes went through.
      for (let i = 0; i < FLUSH_TRIES; i++) {
        const why = this.whyNotSplice();
        if (why) return debug('splice not used: %s', why);
        if (sa.writableLength === 0 && sb.writableLength === 0) break;
        debug('splice switch waits for write queues: a %d, b %d bytes', sa.writableLength, sb.writableLength);
        // false: a socket closed; the pipes report that themselves.
        if (!(await whenFlushed(sa, sb))) return;
      }
      const why = this.whyNotSplice();
      if (why) return debug('splice not used: %s', why);
    } finally {
      this.switchPending = false;
    }
    if (!this.opts.splice?.reserve()) return debug('splice not used: fd budget for spliced relays used up');
    ab.detach();
    ba.detach();
    this.pathMode = 'switching';
    stopNodeReading(sa);
    stopNodeReading(sb);
    // Bytes Node read but nobody consumed go first, through Node's write queue.
    for (const c of takeBuffered(sa)) {
      ab.external(c.length);
      sb.write(c);
    }
    for (const c of takeBuffered(sb)) {
      ba.external(c.length);
      sa.write(c);
    }
    const flushed = await whenFlushed(sa, sb);
    if (this.settled || !flushed) {
      this.opts.splice?.release();
      if (!flushed) this.teardown(new RelayError('ERELAY_CLOSED', 'socket closed while switching to splice'));
      return;
    }
    try {
      this.spliceHandle = spliceRelay(fdOf(sa), fdOf(sb), this.onSpliceDone, { on: this.spliceOn });
    } catch (e) {
      this.opts.splice?.release();
      // Out of fds or pipe pages (EMFILE, ENFILE, ENOMEM): the JS pipes carry on instead.
      debug('splice not used: %s', (e as Error).message);
      this.pathMode = 'js';
      resumeNodeReading(sa);
      resumeNodeReading(sb);
      ab.reattach();
      ba.reattach();
      return;
    }
    this.pathMode = 'splice';
    if (this.spliceOn === 'thread') {
      // what the kernel relay moved since the switch (Node's own counters hold the rest)
      const moved = (): RelayResult => {
        this.syncSplice();
        return this.seen;
      };
      releaseNodeHandle(sa, () => ({ read: moved().aToB, written: moved().bToA }));
      releaseNodeHandle(sb, () => ({ read: moved().bToA, written: moved().aToB }));
    }
    // The kernel relay holds dups: an owner's destroy() alone would not close the connection.
    sa.once('close', this.onSplicedAClose);
    sb.once('close', this.onSplicedBClose);
    this.spliceTimer = setInterval(() => this.syncSplice(), SPLICE_POLL_MS).unref();
  }

  /** Folds the kernel relay's counters into the pipes (bytes, lastActivity, onBytes, EOF). */
  private syncSplice(): void {
    const st = this.spliceHandle?.stats();
    if (!st) return;
    this.account(st.aToB, st.bToA);
    if (st.aToBDone) this.ab?.finishExternal();
    if (st.bToADone) this.ba?.finishExternal();
  }

  private account(aToB: number, bToA: number): void {
    this.ab?.external(aToB - this.seen.aToB);
    this.ba?.external(bToA - this.seen.bToA);
    this.seen = { aToB, bToA };
  }

  /** Why the relay cannot switch now (settled, a tap, a finished direction, the sockets). */
  private whyNotSplice(): string | null {
    const { ab, ba } = this;
    if (this.settled || this.tapped || this.mode !== 'js' || !ab || !ba) return 'relay state changed';
    if (!ab.detachable || !ba.detachable) return 'a direction already finished';
    return spliceIneligible(this.a, this.b);
  }

  private readonly onSpliceDone = (err: SpliceError | null, aToB: number, bToA: number, first: 'aToB' | 'bToA' | null): void => {
    if (this.spliceHandle) this.opts.splice?.release();
    this.spliceHandle = undefined;
    if (this.spliceTimer) clearInterval(this.spliceTimer);
    this.account(aToB, bToA);
    if (this.settled) return;
    if (err) {
      const side = err.side;
      this.teardown(new RelayError('ERELAY_SOCKET', `${side ?? 'splice'}: ${err.message}`, side, err));
      return;
    }
    // In the order the kernel relay passed the EOFs on, for owners that watch each pipe's done.
    const order = first === 'bToA' ? [this.ba, this.ab] : [this.ab, this.ba];
    for (const p of order) p?.finishExternal();
  };

  // finish() destroys both sockets itself: skip building an error (a stack trace) then.
  private readonly onSplicedAClose = (): void => {
    if (!this.settled) this.teardown(new RelayError('ERELAY_CLOSED', 'a closed while spliced', 'a'));
  };
  private readonly onSplicedBClose = (): void => {
    if (!this.settled) this.teardown(new RelayError('ERELAY_CLOSED', 'b closed while spliced', 'b'));
  };

  private stopSplice(): void {
    if (this.spliceTimer) clearInterval(this.spliceTimer);
    const h = this.spliceHandle;
    if (!h) return;
    this.spliceHandle = undefined;
    this.opts.splice?.release();
    // Count what the kernel moved, then release its fds before the sockets are destroyed.
    const st = h.stats();
    if (st) this.account(st.aToB, st.bToA);
    h.shutdown();
  }

  // Kept attached after settling, so a late 'error' never becomes an uncaught exception.
  private readonly onAError = (e: Error): void => this.teardown(new RelayError('ERELAY_SOCKET', `a: ${e.message}`, 'a', e));
  private readonly onBError = (e: Error): void => this.teardown(new RelayError('ERELAY_SOCKET', `b: ${e.message}`, 'b', e));

  private armIdle(ms: number): void {
    const check = (): void => {
      if (this.settled) return;
      const idle = performance.now() - this.lastActivity;
      if (idle >= ms) this.teardown(new RelayError('ERELAY_IDLE', `idle for ${Math.round(idle)} ms`));
      else this.timer = setTimeout(check, ms - idle).unref();
    };
    this.timer = setTimeout(check, ms).unref();
  }
}

/** Relays a<->b until both directions ended; both sockets are destroyed afterwards. */
export function relay(a: Duplex, b: Duplex, opts?: RelayOptions): Promise<RelayResult> {
  const r = new Relay(a, b, opts);
  r.startAtoB();
  r.startBtoA();
  return r.done;
}
