/**
 * The machine state a loopback bench depends on, printed with its numbers, and one knob.
 *
 * On a virtual machine every wake-up of an idle vCPU is a halt and an exit to the host. A
 * daemon that hands each connection from process to process (Dante: negotiate, request and io
 * children) pays that wake-up several times per connection, a single event loop far fewer; so
 * connection rates on a quiet VM differ from those on a busy one or on bare metal by several
 * times (bench/README.md, "Reading the loopback numbers"). Linux's guest `haltpoll` cpuidle
 * governor polls before it halts for up to `guest_halt_poll_ns`; `RTS_BENCH_HALTPOLL=NS` sets
 * it for the bench's duration and puts the old value back (200000 is the kernel's default,
 * 0 disables polling).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const HALT_POLL = '/sys/module/haltpoll/parameters/guest_halt_poll_ns';
const IDLE_DRIVER = '/sys/devices/system/cpu/cpuidle/current_driver';

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** One line: cpuidle driver, halt-poll window and load average. */
export function machineState(): string {
  const poll = read(HALT_POLL);
  const load = read('/proc/loadavg')?.split(' ').slice(0, 3).join(' ');
  const set = process.env.RTS_BENCH_HALTPOLL ? ` (set to ${process.env.RTS_BENCH_HALTPOLL} for this run)` : '';
  return `cpuidle ${read(IDLE_DRIVER) ?? 'none'}${poll !== undefined ? `, guest_halt_poll_ns ${poll}${set}` : ''}, load avg ${load}`;
}

/** Runs `fn` with RTS_BENCH_HALTPOLL applied (if set), restoring the previous value after. */
export async function withHaltPoll<T>(fn: () => Promise<T>): Promise<T> {
  const want = process.env.RTS_BENCH_HALTPOLL;
  if (want === undefined || want === '') return fn();
  if (!/^\d+$/.test(want)) throw new Error(`RTS_BENCH_HALTPOLL=${want}: a number of nanoseconds`);
  if (!existsSync(HALT_POLL)) throw new Error(`RTS_BENCH_HALTPOLL: ${HALT_POLL} does not exist (no haltpoll cpuidle here)`);
  const old = readFileSync(HALT_POLL, 'utf8').trim();
  writeFileSync(HALT_POLL, want);
  const restore = (): void => writeFileSync(HALT_POLL, old);
  process.once('SIGINT', () => { restore(); process.exit(130); });
  try {
    return await fn();
  } finally {
    restore();
  }
}
