/**
 * Pre-greeted warm-pool connections (zero-rtt.md §3.8). An idle MPTCP connection opens its
 * extra subflows only once data has been exchanged, so the pool sends the SOCKS5 greeting
 * as soon as a connection is made: the server's ACK brings the MP_JOINs up while the
 * connection idles, and the stream that later takes it sends only [auth +] CONNECT + data.
 * Our server holds its OC method choice until the CONNECT reply, so the reply bytes are the
 * same as for a normal optimistic connect.
 */
import type * as net from 'node:net';

const greeted = new WeakMap<net.Socket, Buffer>();

/** Records that `greeting` was already written on `socket`. */
export function markPreGreeted(socket: net.Socket, greeting: Buffer): void {
  greeted.set(socket, greeting);
}

/** The greeting already sent on this socket by the pool, if any. */
export function preGreetingOf(socket: net.Socket): Buffer | undefined {
  return greeted.get(socket);
}
