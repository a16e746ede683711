/**
 * One relay direction, src -> dst, without stream.pipeline's destroy-both semantics:
 * - backpressure: src is paused while dst.write() returns false, resumed on 'drain'
 *   (at most one chunk above dst's highWaterMark is ever buffered here);
 * - half-close: src EOF -> dst.end(); the other direction is not touched;
 * - errors/premature close of either stream reject with RelayError; nothing is destroyed here.
 * For half-close both net.Sockets need allowHalfOpen: true, else Node ends them on EOF itself.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import { RelayError } from '../errors';

export interface PipeOptions {
  /** Bytes written to dst before anything from src (e.g. read past a handshake); counted. */
  head?: Buffer;
  onBytes?(n: number): void;
  /** Sees every chunk before it is written (e.g. to keep a replay copy); must not mutate it. */
  tap?(chunk: Buffer): void;
  /** Rejects with ERELAY_IDLE after this long without a byte in this direction. */
  idleTimeoutMs?: number;
}

export interface PipeResult {
  bytes: number;
  /** true when stop() detached the pipe before src ended. */
  stopped?: boolean;
}

type Src = Readable | Duplex;
type Dst = Writable | Duplex;

export class Pipe {
  bytes = 0;
  /** performance.now() of the last chunk (or of the start). */
  lastActivity = performance.now();
  readonly done: Promise<PipeResult>;
  private settled = false;
  private srcEnded = false;
  private waitingDrain = false;
  private timer: NodeJS.Timeout | undefined;
  private resolve!: (r: PipeResult) => void;
  private reject!: (e: RelayError) => void;

  constructor(
    private readonly src: Src,
    private readonly dst: Dst,
    private readonly opts: PipeOptions = {},
  ) {
    this.done = new Promise<PipeResult>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    // A daemon must not crash because an owner only used stop() and never awaited `done`.
    this.done.catch(() => undefined);
    if (dst.destroyed || dst.writableEnded) {
      this.fail(new RelayError('ERELAY_CLOSED', 'destination already closed', 'dst'));
      return;
    }
    if (src.destroyed && !src.readableEnded) {
      this.fail(new RelayError('ERELAY_CLOSED', 'source already closed', 'src'));
      return;
    }
    this.listen();
    if (opts.head !== undefined && opts.head.length > 0) this.forward(opts.head);
    if (this.waitingDrain) src.pause();
    else src.resume();
    if (src.readableEnded) this.onEnd();
  }

  private listen(): void {
    const { src, dst, opts } = this;
    src.on('data', this.onData);
    src.on('end', this.onEnd);
    src.on('error', this.onSrcError);
    src.on('close', this.onSrcClose);
    dst.on('drain', this.onDrain);
    dst.on('error', this.onDstError);
    dst.on('close', this.onDstClose);
    dst.on('finish', this.onFinish);
    if (opts.idleTimeoutMs !== undefined && opts.idleTimeoutMs > 0) this.armIdle(opts.idleTimeoutMs);
  }

  /** Takes the direction back after detach() when the external mover could not start. */
  reattach(): void {
    if (this.settled) return;
    this.listen();
    this.src.resume();
  }

  /** Detaches without touching either stream; src is left paused. */
  stop(): void {
    if (this.settled) return;
    this.src.pause();
    this.settle();
    this.resolve({ bytes: this.bytes, stopped: true });
  }

  /** Rejects with `err` (used by owners such as Relay); streams are not touched. */
  fail(err: RelayError): void {
    if (this.settled) return;
    err.bytes = this.bytes;
    this.settle();
    this.reject(err);
  }

  /**
   * Hands the direction to an external mover (the splice relay): listeners are removed, src is
   * paused and `done` stays pending until finishExternal()/fail(). False (nothing changed) when
   * the pipe already settled or src already ended.
   */
  get detachable(): boolean {
    return !this.settled && !this.srcEnded && !this.src.readableEnded;
  }

  detach(): boolean {
    if (!this.detachable) return false;
    this.src.pause();
    this.unlisten();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return true;
  }

  /** Counts `n` bytes moved outside this pipe (after detach()). */
  external(n: number): void {
    if (n <= 0) return;
    this.bytes += n;
    this.lastActivity = performance.now();
    this.opts.onBytes?.(n);
  }

  /** The external mover passed src's EOF on to dst. */
  finishExternal(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve({ bytes: this.bytes });
  }

  private forward(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.lastActivity = performance.now();
    this.opts.tap?.(chunk);
    this.opts.onBytes?.(chunk.length);
    if (!this.dst.write(chunk)) this.waitingDrain = true;
  }

  private readonly onData = (chunk: Buffer): void => {
    this.forward(chunk);
    if (this.waitingDrain) this.src.pause();
  };

  private readonly onDrain = (): void => {
    if (!this.waitingDrain || this.settled) return;
    this.waitingDrain = false;
    this.src.resume();
  };

  private readonly onEnd = (): void => {
    if (this.srcEnded) return;
    this.srcEnded = true;
    this.dst.end();
    if (this.dst.writableFinished) this.onFinish();
  };

  private readonly onFinish = (): void => {
    if (this.srcEnded && !this.settled) {
      this.settle();
      this.resolve({ bytes: this.bytes });
    }
  };

  private readonly onSrcError = (e: Error): void => this.fail(new RelayError('ERELAY_SOCKET', `source: ${e.message}`, 'src', e));
  private readonly onDstError = (e: Error): void => this.fail(new RelayError('ERELAY_SOCKET', `destination: ${e.message}`, 'dst', e));
  private readonly onSrcClose = (): void => {
    if (!this.srcEnded) this.fail(new RelayError('ERELAY_CLOSED', 'source closed before EOF', 'src'));
  };
  private readonly onDstClose = (): void => {
    if (!this.dst.writableFinished) this.fail(new RelayError('ERELAY_CLOSED', 'destination closed before all data was written', 'dst'));
  };

  private armIdle(ms: number): void {
    const check = (): void => {
      const idle = performance.now() - this.lastActivity;
      if (idle >= ms) this.fail(new RelayError('ERELAY_IDLE', `idle for ${Math.round(idle)} ms`));
      else this.timer = setTimeout(check, ms - idle).unref();
    };
    this.timer = setTimeout(check, ms).unref();
  }

  private settle(): void {
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.unlisten();
  }

  private unlisten(): void {
    const { src, dst } = this;
    src.off('data', this.onData);
    src.off('end', this.onEnd);
    src.off('error', this.onSrcError);
    src.off('close', this.onSrcClose);
    dst.off('drain', this.onDrain);
    dst.off('error', this.onDstError);
    dst.off('close', this.onDstClose);
    dst.off('finish', this.onFinish);
  }
}

/** Starts a pipe and returns its Pipe (live counters, stop()). */
export function startPipe(src: Src, dst: Dst, opts?: PipeOptions): Pipe {
  return new Pipe(src, dst, opts);
}

/** One direction until src EOF has been passed on as dst.end(). */
export function pipe(src: Src, dst: Dst, opts?: PipeOptions): Promise<PipeResult> {
  return new Pipe(src, dst, opts).done;
}
