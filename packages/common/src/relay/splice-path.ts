/**
 * The socket-level steps of Relay's splice fast path: eligibility, stopping Node's reads,
 * taking out what Node already read, waiting until Node's write queues are empty.
 */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { debuglog } from 'node:util';
import { fdOf, spliceStatus } from 'mptcp-native';
import { nofileSoftLimit } from '../daemon/limits';
import { ConfigValueError } from '../errors';

export const debug = debuglog('relay');

interface StreamHandle {
  reading?: boolean;
  readStop?(): number;
  close?(cb?: () => void): void;
  onread?: unknown;
  bytesRead?: number;
  bytesWritten?: number;
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

/** Where a daemon's kernel relays run and when its relays switch to them (see RelayOptions). */
export interface SplicePolicy {
  /** 'loop': on Node's main loop beside the sockets; 'thread': on mptcp-native's relay thread. */
  readonly on: 'loop' | 'thread';
  /** Bytes relayed (both directions) in JS before the switch; 0 = as soon as both directions run. */
  readonly afterBytes: number;
}

export const DEFAULT_SPLICE_POLICY: SplicePolicy = { on: 'loop', afterBytes: 64 * 1024 };

/**
 * The runtime choice of both daemons (docs/ARCHITECTURE.md, "Relaying"): MPTCP_SPLICE_ON
 * (loop | thread) and MPTCP_SPLICE_AFTER (bytes) override DEFAULT_SPLICE_POLICY; a bad value
 * is refused with the variable's name.
 */
export function splicePolicyFromEnv(env: NodeJS.ProcessEnv = process.env): SplicePolicy {
  const on = env.MPTCP_SPLICE_ON ?? '';
  const after = env.MPTCP_SPLICE_AFTER ?? '';
  if (on !== '' && on !== 'loop' && on !== 'thread') {
    throw new ConfigValueError(`MPTCP_SPLICE_ON=${on}: expected loop or thread`);
  }
  if (after !== '' && !/^\d+$/.test(after)) {
    throw new ConfigValueError(`MPTCP_SPLICE_AFTER=${after}: expected a number of bytes`);
  }
  return {
    on: on === '' ? DEFAULT_SPLICE_POLICY.on : on,
    afterBytes: after === '' ? DEFAULT_SPLICE_POLICY.afterBytes : Number(after),
  };
}

/**
 * The fds spliced relays may hold together. Each spliced relay holds six more fds than the JS
 * path (two dups, two pipes): splice only while all spliced relays of the process stay within a
 * quarter of RLIMIT_NOFILE, so fd pressure falls back to the JS pipes instead of failing
 * connects and accepts. One budget per daemon, handed to each Relay it makes.
 */
export class SpliceBudget {
  private spliced = 0;

  /**
   * `nofile`: the soft RLIMIT_NOFILE (default: read now; unreadable or unlimited = no cap).
   * `policy`: where and when this daemon's relays splice (default: DEFAULT_SPLICE_POLICY).
   */
  constructor(
    private readonly nofile: number = nofileSoftLimit() ?? Infinity,
    readonly policy: SplicePolicy = DEFAULT_SPLICE_POLICY,
  ) {}

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

/**
 * After the relay thread took its dups: closes Node's own handle of s (its fd and libuv watcher),
 * so nothing of the connection stays on the main loop. The net.Socket object stays for its owner
 * (remote address, destroy(), 'close'); its bytesRead/bytesWritten go on counting from the
 * handle's last values plus what the thread moved (`moved()`: read from s, written to s).
 */
export function releaseNodeHandle(s: net.Socket, moved: () => { read: number; written: number }): void {
  const h = handleOf(s);
  if (!h || !h.close) return;
  const read0 = s.bytesRead;
  const written0 = s.bytesWritten;
  Object.defineProperty(s, 'bytesRead', { configurable: true, get: () => read0 + moved().read });
  Object.defineProperty(s, 'bytesWritten', { configurable: true, get: () => written0 + moved().written });
  h.onread = () => undefined;
  (s as unknown as { _handle: StreamHandle | null })._handle = null;
  h.close();
}
