/** Where the original destination of an intercepted connection comes from. */
import type * as net from 'node:net';
import type { Endpoint } from '../upstream/upstream';

export interface Redirector {
  readonly name: 'iptables' | 'generic';
  /** Throws (with the syscall named) when the kernel cannot tell. */
  originalDst(socket: net.Socket): Endpoint;
  /** The listener needs IP_TRANSPARENT (TPROXY to a non-local address). */
  readonly transparent: boolean;
}

export function plainAddress(a: string): string {
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}
