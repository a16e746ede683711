/**
 * "Need N bytes" accumulator for the daemons' state machines. Bytes live in one growable buffer
 * (doubling, compacting), so many tiny chunks cost O(total), and peek() is a zero-copy view.
 * A peeked view is only valid until the next push/consume. A pushed chunk may be kept by
 * reference (no copy), so never reuse or mutate a buffer after pushing it.
 */
export class ByteQueue {
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  /** false while `buf` is a caller's chunk adopted without copying. */
  private owned = true;

  get length(): number {
    return this.end - this.start;
  }

  push(chunk: Buffer): void {
    const n = chunk.length;
    if (n === 0) return;
    if (this.length === 0 && !this.owned) {
      this.buf = Buffer.alloc(0);
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
        this.buf = Buffer.alloc(0);
        this.owned = true;
      }
    }
  }

  /** Removes and returns (a copy of) the first `n` bytes. */
  take(n: number): Buffer {
    const out = Buffer.from(this.peek(n));
    this.consume(out.length);
    return out;
  }

  /** Removes and returns (a copy of) everything. */
  drain(): Buffer {
    return this.take(this.length);
  }
}
