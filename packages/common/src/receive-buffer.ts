/**
 * The one receive buffer: "wait until a complete message has arrived" for every handshake of
 * both daemons, whatever the segmentation (split, coalesced, with stream data behind it).
 *
 * Storage: one growable buffer (doubling, compacting), so many tiny chunks cost O(total);
 * `peek()` is a zero-copy view, valid until the next push/consume. A pushed chunk may be kept
 * by reference (no copy), so never reuse or mutate a buffer after pushing it.
 *
 * Two ways to feed it:
 * - push(): a state machine that owns its socket's 'data' events (socks-server's session);
 * - new ReceiveBuffer(socket): the buffer listens itself and offers `read(parse)` (the next
 *   message), `wait(ms)` (any byte, EOF or error) and `detach()` (hand the socket and the
 *   bytes past the handshake to a relay). Used for redsocks-ts' client early data and for
 *   every upstream protocol's replies.
 */
import type * as net from 'node:net';
import { ReceiveError } from './errors';

export interface ReceiveBufferOptions {
  /**
   * Pause the socket while this many bytes or more are buffered (TCP flow control holds the
   * rest, so nothing is lost); reading resumes when bytes are taken. Default: never pause.
   */
  pauseAt?: number;
}

export interface ReadOptions {
  /** Give up with EPEER_TIMEOUT after this long (0 = wait as long as it takes). */
  timeoutMs?: number;
  /** Give up with EPEER_TOOLONG when this many bytes did not make a message. */
  maxBytes?: number;
  /** Leave the message in the buffer (the caller forwards it as-is); default: consume it. */
  consume?: boolean;
}

const EMPTY = Buffer.alloc(0);
/** The peer ended or closed before a complete message (redsocks' text for it). */
const EOF_TEXT = "Can't get expected amount of data";

function ignoreError(): void {
  // A late error (e.g. a TFO SYN refused) between detach() and the relay's own listener
  // must not crash the process; the relay still sees it.
}

export class ReceiveBuffer {
  private buf: Buffer = EMPTY;
  private start = 0;
  private end = 0;
  /** false while `buf` is a caller's chunk adopted without copying. */
  private owned = true;

  /** The peer sent FIN. */
  ended = false;
  /** The socket closed (after FIN or not). */
  closed = false;
  /** The socket's error, if any. */
  error: Error | undefined;
  private detached = false;
  private waiters: Array<() => void> = [];
  /** The socket listeners (only when the buffer has a socket: push-fed buffers allocate none). */
  private readonly on?: {
    data: (chunk: Buffer) => void;
    end: () => void;
    error: (err: Error) => void;
    close: () => void;
  };

  constructor(
    private readonly socket?: net.Socket,
    private readonly opts: ReceiveBufferOptions = {},
  ) {
    if (!socket) return;
    const on = {
      data: (chunk: Buffer): void => {
        this.push(chunk);
        const limit = this.opts.pauseAt;
        if (limit !== undefined && this.length >= limit) socket.pause();
        this.wake();
      },
      end: (): void => {
        this.ended = true;
        this.wake();
      },
      error: (err: Error): void => {
        this.error = err;
        this.wake();
      },
      close: (): void => {
        this.closed = true;
        this.wake();
      },
    };
    this.on = on;
    if (!socket.listeners('error').includes(ignoreError)) socket.on('error', ignoreError);
    socket.on('data', on.data);
    socket.on('end', on.end);
    socket.on('error', on.error);
    socket.on('close', on.close);
    // accepted with pauseOnConnect or paused by a previous owner: start reading
    socket.resume();
  }

  // ---- storage ----

  get length(): number {
    return this.end - this.start;
  }

  push(chunk: Buffer): void {
    const n = chunk.length;
    if (n === 0) return;
    if (this.length === 0 && !this.owned) {
      this.buf = EMPTY;
      this.owned = true;
      this.start = this.end = 0;
    }
    if (this.length === 0 && this.buf.length < n) {
      this.buf = chunk;
      this.start = 0;
      this.end = n;
      this.owned = false;
      return;
    }
    if (!this.owned || this.end + n > this.buf.length) this.grow(n);
    chunk.copy(this.buf, this.end);
    this.end += n;
  }

  private grow(extra: number): void {
    const live = this.length;
    const need = live + extra;
    if (this.owned && need <= this.buf.length && this.start >= this.buf.length >>> 1) {
      this.buf.copy(this.buf, 0, this.start, this.end);
    } else {
      let cap = Math.max(256, this.buf.length);
      while (cap < need) cap *= 2;
      const next = Buffer.allocUnsafe(cap);
      this.buf.copy(next, 0, this.start, this.end);
      this.buf = next;
      this.owned = true;
    }
    this.start = 0;
    this.end = live;
  }

  /** View of the first `n` bytes (all if omitted or larger than length). */
  peek(n?: number): Buffer {
    const len = n === undefined ? this.length : Math.min(n, this.length);
    return this.buf.subarray(this.start, this.start + len);
  }

  consume(n: number): void {
    if (n < 0 || n > this.length) throw new RangeError(`cannot consume ${n} of ${this.length} bytes`);
    this.start += n;
    if (this.start === this.end) {
      this.start = this.end = 0;
      if (!this.owned || this.buf.length > 65536) {
        this.buf = EMPTY;
        this.owned = true;
      }
    }
    this.resumeBelowLimit();
  }

  /** Removes and returns (a copy of) the first `n` bytes. */
  take(n: number): Buffer {
    const out = Buffer.from(this.peek(n));
    this.consume(out.length);
    return out;
  }

  /** Removes and returns everything buffered (no copy: the storage starts afresh). */
  drain(): Buffer {
    if (this.length === 0) {
      this.resumeBelowLimit();
      return EMPTY;
    }
    const out = this.buf.subarray(this.start, this.end);
    this.buf = EMPTY;
    this.owned = true;
    this.start = this.end = 0;
    this.resumeBelowLimit();
    return out;
  }

  /** Puts bytes back in front (a consumer that looked but must not consume). */
  unshift(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const rest = this.drain();
    this.push(chunk);
    this.push(rest);
  }

  // ---- a socket of its own ----

  /** The error, or 'client closed' for a close without one (after FIN too). */
  get failed(): Error | undefined {
    return this.error ?? (this.closed ? new Error('client closed') : undefined);
  }

  /** Resolves once a byte is buffered, the peer ended, failed or closed, or `ms` passed. */
  wait(ms: number): Promise<void> {
    if (this.length > 0 || this.ended || this.error || this.closed || this.detached) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        const i = this.waiters.indexOf(done);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.push(done);
    });
  }

  /**
   * The next message: `parse` sees everything buffered and returns null for "need more" or a
   * value whose `length` it used. Rejects with the socket's error, or a ReceiveError on EOF,
   * timeout or too many bytes; a parse error propagates.
   */
  async read<T extends { length: number }>(parse: (b: Buffer) => T | null, opts: ReadOptions = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? 0;
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : 0;
    for (;;) {
      const v = parse(this.peek());
      if (v) {
        if (opts.consume !== false) this.consume(v.length);
        return v;
      }
      if (opts.maxBytes !== undefined && this.length > opts.maxBytes) throw new ReceiveError('EPEER_TOOLONG', EOF_TEXT);
      if (this.error) throw this.error;
      if (this.ended || this.closed) throw new ReceiveError('EPEER_EOF', EOF_TEXT);
      if (this.detached) throw new ReceiveError('EPEER_EOF', 'receive buffer detached');
      const left = deadline ? deadline - Date.now() : 0;
      if (deadline && left <= 0) throw this.timeout(timeoutMs);
      await new Promise<void>((resolve, reject) => {
        const timer = deadline ? setTimeout(() => {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(this.timeout(timeoutMs));
        }, Math.max(1, left)) : undefined;
        const wake = (): void => {
          if (timer) clearTimeout(timer);
          resolve();
        };
        this.waiters.push(wake);
      });
    }
  }

  private timeout(ms: number): ReceiveError {
    return new ReceiveError('EPEER_TIMEOUT', `no complete message within ${ms} ms`);
  }

  /**
   * Stops listening and leaves the socket paused for its next owner (a relay); returns the
   * bytes buffered so far. A no-op error listener stays (see ignoreError).
   */
  detach(): Buffer {
    const s = this.socket;
    const on = this.on;
    if (s && on && !this.detached) {
      s.pause();
      s.off('data', on.data);
      s.off('end', on.end);
      s.off('error', on.error);
      s.off('close', on.close);
    }
    this.detached = true;
    const rest = this.drain();
    this.wake();
    return rest;
  }

  private resumeBelowLimit(): void {
    const s = this.socket;
    if (!s || this.detached || this.ended || this.opts.pauseAt === undefined) return;
    if (this.length < this.opts.pauseAt) s.resume();
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
