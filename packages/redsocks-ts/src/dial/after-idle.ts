/**
 * The first bytes on a connection taken from the warm pool after it idled
 * (docs/optimistic-connect.md, "Warm pool", "The first segment on each subflow is small").
 *
 * The server's kernel takes a receive-RTT sample from the first segment of at least `rcv_mss`
 * bytes that echoes a new timestamp, and the first segments after an idle echo the timestamp
 * of the server's last segment before it: the sample is as long as the idle time, MPTCP's
 * receive-buffer tuning keeps it (the largest over the subflows) and the upload runs at
 * ~64 KB per round trip for that long. The first segment with a new echoed timestamp settles
 * that timestamp whatever its size, and later segments echoing the same one are skipped. So
 * the connection's first bytes go out as one small segment per established subflow (the
 * kernel's scheduler puts the next write on a subflow with nothing queued), then the rest:
 * no stale sample is taken on any subflow. The cost: a few small segments, and one event loop
 * turn per further subflow before the rest leaves (each piece is its own write, and a TLS
 * socket only flushes a record as its own segment once the previous write completed); the
 * first piece carries the handshake and a small request whole, so the server is already
 * connecting meanwhile.
 */
import type * as net from 'node:net';
import * as mptcpNative from 'mptcp-native';

/**
 * The first piece: at most this many bytes (with a TLS record's 22, well under the server's
 * `rcv_mss`, 536 until a larger segment arrives), so it holds the SOCKS handshake and a small
 * request whole and the server can act on them before the later pieces arrive.
 */
export const AFTER_IDLE_FIRST = 256;
/** Each later leading piece, one per further subflow. */
export const AFTER_IDLE_PIECE = 32;

/**
 * `data` as one small leading piece per subflow (while it has a byte for each), then the rest
 * in one: the first piece as large as AFTER_IDLE_FIRST allows, the others small.
 */
export function afterIdlePieces(data: Buffer, subflows: number, first = AFTER_IDLE_FIRST, piece = AFTER_IDLE_PIECE): Buffer[] {
  if (data.length === 0) return [];
  const n = Math.max(1, Math.min(subflows, data.length));
  // each piece leaves at least one byte for every piece after it
  let off = Math.min(first, data.length - (n - 1));
  const out = [data.subarray(0, off)];
  for (let i = 1; i < n; i++) {
    const end = off + Math.min(piece, data.length - off - (n - 1 - i));
    out.push(data.subarray(off, end));
    off = end;
  }
  if (off < data.length) out.push(data.subarray(off));
  return out;
}

/** Established subflows of an MPTCP socket (1 for plain TCP, or when the kernel cannot say). */
export function establishedSubflows(raw: net.Socket): number {
  try {
    return Math.max(1, mptcpNative.subflows(raw).filter((s) => s.state === 1).length);
  } catch {
    return 1;
  }
}

/**
 * Writes `data` on `socket` (the stream's socket: TLS or the MPTCP socket itself) as
 * afterIdlePieces() for the subflows of `raw`, each small piece once the previous one has
 * left; resolves when the last write is queued (not drained).
 */
export async function writeAfterIdle(socket: net.Socket, raw: net.Socket, data: Buffer): Promise<void> {
  const pieces = afterIdlePieces(data, establishedSubflows(raw));
  for (let i = 0; i < pieces.length; i++) {
    if (socket.destroyed) return;
    if (i === pieces.length - 1) {
      socket.write(pieces[i]);
      return;
    }
    // an error also ends the wait; the stream's reader reports it
    await new Promise<void>((resolve) => socket.write(pieces[i], () => resolve()));
  }
}
