import type * as net from 'node:net';

/** How long a failure reply may take to drain before the client socket is destroyed. */
const FLUSH_MS = 10_000;

/**
 * The client socket at the end of a session: a pending failure reply is flushed first
 * (reading on, and dropping, so the peer's FIN is seen), then the socket closes; a socket
 * with nothing left to write is destroyed at once.
 */
export function closeClientSocket(s: net.Socket): void {
  if (s.destroyed) return;
  if (s.writableLength > 0 && !s.writableEnded) {
    s.end();
    s.resume();
    s.setTimeout(FLUSH_MS, () => s.destroy());
  } else s.destroy();
}
