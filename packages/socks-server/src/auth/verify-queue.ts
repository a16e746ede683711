/**
 * At most `concurrency` password checks at once (each occupies a libuv thread-pool thread,
 * which DNS lookups and file I/O share), at most `backlog` waiting; beyond that a check is
 * answered "busy" at once (a failed login that does not count against the source).
 */
export class VerifyQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly backlog: number,
  ) {}

  run<T>(fn: () => Promise<T>): Promise<T | 'busy'> {
    if (this.running < this.concurrency) {
      this.running++;
      return this.inSlot(fn);
    }
    if (this.waiting.length >= this.backlog) return Promise.resolve('busy');
    // The finishing check hands its slot over (running stays the same).
    return new Promise<void>((r) => this.waiting.push(r)).then(() => this.inSlot(fn));
  }

  private inSlot<T>(fn: () => Promise<T>): Promise<T> {
    const release = (): void => {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
    let p: Promise<T>;
    try {
      p = fn();
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(release, release);
    return p;
  }
}
