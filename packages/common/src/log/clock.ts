/**
 * The one clock of every log line of both daemons: performance.timeOrigin + performance.now(),
 * milliseconds since the epoch with a real sub-millisecond part. It never runs backwards:
 * timeOrigin is fixed at start and performance.now() is CLOCK_MONOTONIC (a step of the wall
 * clock after start is not followed; NTP's slewing is). Date.now() can jump back and has no
 * microseconds.
 */
export function logClock(): number {
  return performance.timeOrigin + performance.now();
}

/** `1795626261.585310`: seconds and microseconds, as redsocks' and Dante's lines show them. */
export function secUsecStamp(ms: number): string {
  const sec = Math.floor(ms / 1000);
  const usec = Math.min(999_999, Math.floor((ms - sec * 1000) * 1000));
  return `${sec}.${String(usec).padStart(6, '0')}`;
}
