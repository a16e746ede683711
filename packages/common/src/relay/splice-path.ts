/**
 * The socket-level steps of Relay's splice fast path: eligibility, stopping Node's reads,
 * taking out what Node already read, waiting until Node's write queues are empty.
 */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { debuglog } from 'node:util';
import { fdOf, spliceStatus } from 'mptcp-native';
import { nofileSoftLimit } from '../daemon/limits';

export const debug = debuglog('relay');

interface StreamHandle {
  reading?: boolean;
  readStop?(): number;
}

function handleOf(s: net.Socket): StreamHandle | null {
  return (s as unknown as { _handle?: StreamHandle | null })._handle ?? null;
}

function readEnded(s: Duplex): boolean {
  return s.readableEnded || (s as unknown as { _readableState?: { ended?: boolean } })._readableState?.ended === true;
}

/** Why the pair cannot be spliced, or null when it can. */
export function spliceIneligible(a: Duplex, b: Duplex): string | null {
  for (const [name, s] of [['a', a], ['b', b]] as const) {
    if (!(s instanceof net.Socket)) return `${name} is not a net.Socket`;
    if ((s as { encrypted?: boolean }).encrypted) return `${name} is TLS`;
    if (s.destroyed || s.connecting) return `${name} is ${s.destroyed ? 'destroyed' : 'connecting'}`;
    if (readEnded(s)) return `${name} already saw EOF`;
    if (s.writableEnded) return `${name} already ended its writable side`;
    try {
      fdOf(s);
    } catch {
      return `${name} has no fd`;
    }
  }
  const st = spliceStatus();
  if (!st.loaded) return `splice addon not loaded: ${st.reason}`;
  return null;
}

/**
 * The fds spliced relays may hold together. Each spliced relay holds six more fds than the JS
 * path (two dups, two pipes): splice only while all spliced relays of the process stay within a
 * quarter of RLIMIT_NOFILE, so fd pressure falls back to the JS pipes instead of failing
 * connects and accepts. One budget per daemon, handed to each Relay it makes.
 */
export class SpliceBudget {
  private spliced = 0;

  /** `nofile`: the soft RLIMIT_NOFILE (default: read now; unreadable or unlimited = no cap). */
  constructor(private readonly nofile: number = nofileSoftLimit() ?? Infinity) {}

  /** Takes one relay's share; false when the budget is used up. */
  reserve(): boolean {
    if ((this.spliced + 1) * 6 > this.nofile / 4) return false;
    this.spliced++;
    return true;
  }

  release(): void {
    if (this.spliced > 0) this.spliced--;
  }

  /** Spliced relays holding a share now. */
  get inUse(): number {
    return this.spliced;
  }
}

/**
 * Stops Node reading from s for good: libuv's read watcher is stopped, and _read is made a no-op
 * so a later resume() by the socket's owner cannot restart it (the kernel relay owns the fd).
 */
export function stopNodeReading(s: net.Socket): void {
  s.pause();
  // An own property shadows net.Socket's _read; resumeNodeReading() deletes it again.
  (s as unknown as { _read(n: number): void })._read = () => undefined;
  const h = handleOf(s);
  if (h && h.readStop) {
    h.readStop();
    h.reading = false;
  }
}

/** Undoes stopNodeReading() when the switch to splice could not happen. */
export function resumeNodeReading(s: net.Socket): void {
  delete (s as unknown as { _read?: unknown })._read;
  // The no-op _read left Readable's `reading` flag set; clear it so resume() reads again.
  const state = (s as unknown as { _readableState?: { reading: boolean } })._readableState;
  if (state) state.reading = false;
}

/** Takes out the bytes Node has read from s but nobody consumed yet (after stopNodeReading). */
export function takeBuffered(s: net.Socket): Buffer[] {
  const out: Buffer[] = [];
  while (s.readableLength > 0) {
    const c = s.read() as Buffer | string | null;
    if (c === null) break;
    out.push(typeof c === 'string' ? Buffer.from(c) : c);
  }
  return out;
}

const EMPTY = Buffer.alloc(0);

/**
 * Resolves true once every byte queued on s so far has reached the kernel, false if s closed first.
 * Not 'drain': it only fires after a write() returned false, so a small queue (below the
 * highWaterMark, e.g. a reply stuck behind a full socket buffer) never emits it. A zero-length
 * write's callback runs after every earlier write completed.
 */
function flushed(s: net.Socket): Promise<boolean> {
  if (s.destroyed) return Promise.resolve(false);
  if (s.writableLength === 0) return Promise.resolve(true);
  if (s.writableEnded) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      s.off('close', onClose);
      resolve(ok);
    };
    const onClose = (): void => done(false);
    s.once('close', onClose);
    s.write(EMPTY, (err?: Error | null) => done(!err && !s.destroyed));
  });
}

/** Resolves true once both write queues are empty, false if either socket closed first. */
export async function whenFlushed(a: net.Socket, b: net.Socket): Promise<boolean> {
  const [fa, fb] = await Promise.all([flushed(a), flushed(b)]);
  return fa && fb && !a.destroyed && !b.destroyed;
}
