/**
 * Kernel-side byte relay between two connected stream sockets (TCP or MPTCP) with splice(2).
 * The addon is a separate file, mptcp_splice.node, found next to mptcp_native.node.
 * The relay dups both fds: the caller keeps (and eventually closes) its own sockets, but must
 * stop Node reading from them first, or Node and the kernel relay race for the bytes.
 */
import * as path from 'node:path';
import { addonStatus } from './native';
import { ErrorCodes, MptcpNativeError } from './errors';
import type { NativeSpliceBinding } from './native-binding';

export interface SpliceStats {
  aToB: number;
  bToA: number;
  /** EOF of that direction has been passed on as shutdown(SHUT_WR). */
  aToBDone: boolean;
  bToADone: boolean;
  /** Each direction's pipe capacity now (grows to the requested size once the pipe fills). */
  aToBPipe: number;
  bToAPipe: number;
}

export interface SpliceHandle {
  /** Live counters; null once the relay has finished. */
  stats(): SpliceStats | null;
  /** Stops relaying now; the callback still runs (err null) after everything was released. */
  shutdown(): void;
}

/** An errno error of a spliced relay; `side` names the socket it came from ('a' or 'b'). */
export type SpliceError = NodeJS.ErrnoException & { side?: 'a' | 'b' };

/** firstDone: the direction whose EOF was passed on first (null: neither, e.g. an error). */
export type SpliceCallback = (err: SpliceError | null, aToB: number, bToA: number, firstDone: 'aToB' | 'bToA' | null) => void;

type SpliceBinding = NativeSpliceBinding;

export const SPLICE_ADDON_FILE = 'mptcp_splice.node';
/**
 * Requested pipe size, applied when a pipe first fills (short connections keep the kernel's
 * 64 KiB ring); the kernel may refuse (pipe-max-size) and keep its default.
 */
export const DEFAULT_PIPE_SIZE = 1 << 20;

/**
 * Without CAP_SYS_RESOURCE every pipe slot counts against pipe-user-pages-soft (16384 pages per
 * user), and past it new pipes get only 2 slots: an unprivileged daemon keeps the kernel default
 * (0 = 64 KiB). MPTCP_SPLICE_PIPE_SIZE overrides (bytes; 0 = kernel default; read once).
 */
let pipeSize: number | undefined;
function defaultPipeSize(): number {
  if (pipeSize !== undefined) return pipeSize;
  const env = process.env.MPTCP_SPLICE_PIPE_SIZE;
  if (env !== undefined && env !== '' && Number.isInteger(Number(env)) && Number(env) >= 0) pipeSize = Number(env);
  else pipeSize = process.getuid?.() === 0 ? DEFAULT_PIPE_SIZE : 0;
  return pipeSize;
}

let loaded: { binding: SpliceBinding | null; reason?: string } | undefined;

function load(): { binding: SpliceBinding | null; reason?: string } {
  if (loaded) return loaded;
  const st = addonStatus();
  const dirs = st.path ? [path.dirname(st.path)] : [];
  const override = process.env.MPTCP_SPLICE_PATH;
  const candidates = override ? [override] : dirs.map((d) => path.join(d, SPLICE_ADDON_FILE));
  const errors: string[] = [];
  for (const p of candidates) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded = { binding: require(p) as SpliceBinding };
      return loaded;
    } catch (e) {
      errors.push(`${p}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  loaded = { binding: null, reason: candidates.length ? errors.join('; ') : `mptcp-native not loaded: ${st.reason}` };
  return loaded;
}

export function spliceStatus(): { loaded: boolean; reason?: string } {
  const l = load();
  return l.binding ? { loaded: true } : { loaded: false, reason: l.reason };
}

export interface SpliceOptions {
  pipeSize?: number;
  /**
   * 'loop' (default): on Node's main loop beside the caller's sockets (uv_poll on the dups).
   * 'thread': on the addon's own thread (epoll); the caller may close its own fds (and release
   * its net.Sockets' handles) right away, and the main loop holds nothing for the connection.
   */
  on?: 'loop' | 'thread';
}

/**
 * Relays fdA <-> fdB until both directions saw EOF (each passed on as shutdown(SHUT_WR)),
 * or a splice/shutdown error (a Node-style errno error). cb runs once, after the relay's dup fds,
 * pipes and poll handles are all closed.
 */
export function spliceRelay(fdA: number, fdB: number, cb: SpliceCallback, opts: SpliceOptions = {}): SpliceHandle {
  const b = load().binding;
  if (!b) {
    throw new MptcpNativeError({ code: ErrorCodes.UNAVAILABLE }, `spliceRelay needs ${SPLICE_ADDON_FILE}: ${loaded?.reason}`);
  }
  const fn = opts.on === 'thread' ? b.nativeRelay : b.spliceRelay;
  return fn(fdA, fdB, opts.pipeSize ?? defaultPipeSize(), cb);
}
