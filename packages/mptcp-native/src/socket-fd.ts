/** The one place that reaches into Node's private handle for the fd. */
import type * as net from 'node:net';
import { ErrorCodes, MptcpNativeError } from './errors';

export function fdOf(sock: net.Socket | net.Server): number {
  const handle = (sock as unknown as { _handle?: { fd?: number } | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new MptcpNativeError({ code: ErrorCodes.NOT_A_SOCKET },
      'mptcp-native: this socket has no file descriptor (not yet connected, already destroyed, or not a TCP socket)');
  }
  return fd;
}
