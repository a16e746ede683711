/**
 * Bidirectional relay of two sockets built from two Pipes. It owns both sockets from construction:
 * an 'error' on either, an idle timeout or abort() destroys both and rejects `done` with a
 * RelayError carrying the byte counts. When both directions have ended (half-close both ways),
 * both sockets are destroyed and `done` resolves.
 * Directions may start at different times (optimistic connect streams a->b before the reply is
 * parsed; b->a starts after it, with the bytes read past the reply as `head`).
 */
import type { Duplex } from 'node:stream';
import { Pipe, PipeOptions } from './pipe';
import { RelayError, relayError } from './relay-error';

export interface RelayOptions {
  /** Tear down after this long without a byte in either direction. */
  idleTimeoutMs?: number;
  onBytes?(dir: 'aToB' | 'bToA', n: number): void;
}

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

  get aToB(): number {
    return this.ab?.bytes ?? 0;
  }
  get bToA(): number {
    return this.ba?.bytes ?? 0;
  }
  /** performance.now() of the last byte in either direction (or of construction). */
  get lastActivity(): number {
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
    return this.ab;
  }

  startBtoA(head?: Buffer, extra: Pick<PipeOptions, 'tap'> = {}): Pipe {
    if (this.ba) throw new RelayError('ERELAY_STATE', 'b->a already started');
    this.ba = this.startPipe(this.b, this.a, 'bToA', head, extra);
    return this.ba;
  }

  /** Destroys both sockets; `done` rejects with ERELAY_ABORTED (cause = `reason`). */
  abort(reason?: unknown): void {
    this.teardown(relayError('ERELAY_ABORTED', 'relay aborted', undefined, reason));
  }

  private startPipe(src: Duplex, dst: Duplex, dir: 'aToB' | 'bToA', head: Buffer | undefined, extra: Pick<PipeOptions, 'tap'>): Pipe {
    const onBytes = this.opts.onBytes;
    const p = new Pipe(src, dst, {
      head,
      tap: extra.tap,
      onBytes: onBytes ? (n) => onBytes(dir, n) : undefined,
    });
    if (this.settled) {
      p.fail(relayError('ERELAY_CLOSED', 'relay already finished'));
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
    this.a.destroy();
    this.b.destroy();
    this.resolve({ aToB: this.aToB, bToA: this.bToA });
  }

  private teardown(err: RelayError): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    err.aToB = this.aToB;
    err.bToA = this.bToA;
    this.ab?.fail(relayError('ERELAY_ABORTED', 'relay torn down'));
    this.ba?.fail(relayError('ERELAY_ABORTED', 'relay torn down'));
    this.a.destroy();
    this.b.destroy();
    this.reject(err);
  }

  // Kept attached after settling, so a late 'error' never becomes an uncaught exception.
  private readonly onAError = (e: Error): void => this.teardown(relayError('ERELAY_SOCKET', `a: ${e.message}`, 'a', e));
  private readonly onBError = (e: Error): void => this.teardown(relayError('ERELAY_SOCKET', `b: ${e.message}`, 'b', e));

  private armIdle(ms: number): void {
    const check = (): void => {
      if (this.settled) return;
      const idle = performance.now() - this.lastActivity;
      if (idle >= ms) this.teardown(relayError('ERELAY_IDLE', `idle for ${Math.round(idle)} ms`));
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
