/**
 * Early data: client bytes that arrive after the request (optimistic connect) and wait for
 * the destination. They stay in the session's queue; this accounts for them per client IP
 * (extension.optimistic.maxearly per session, OcLimits.maxEarlyPerClient per IP) and pauses
 * the client when either cap is reached, so TCP flow control pushes back.
 */
import type { SharedState } from '../runtime';

export class EarlyDataAccount {
  private counted = 0;

  constructor(
    private readonly shared: SharedState,
    private readonly clientAddress: string,
    private readonly maxPerSession: number,
    private readonly maxPerClient: number,
    private readonly pause: () => void,
  ) {}

  /** `n` more early bytes arrived; `queued` is what the session now holds. */
  add(n: number, queued: number): void {
    if (n === 0) return;
    this.counted += n;
    const total = this.shared.add(this.shared.earlyBytes, this.clientAddress, n);
    // Overflow is never an error: stop reading.
    if (queued >= this.maxPerSession || total >= this.maxPerClient) this.pause();
  }

  /** The bytes left the queue (handed to the destination or dropped). */
  release(): void {
    if (this.counted > 0) {
      this.shared.add(this.shared.earlyBytes, this.clientAddress, -this.counted);
      this.counted = 0;
    }
  }
}
