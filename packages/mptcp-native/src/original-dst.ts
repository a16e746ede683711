/** Where a redirected connection was going: SO_ORIGINAL_DST (REDIRECT) or getsockname (TPROXY). */
import type * as net from 'node:net';
import { ErrorCodes, MptcpNativeError } from './errors';
import { native, requireNative } from './native';
import { fdOf } from './socket-fd';

export interface SocketAddress {
  address: string;
  port: number;
  family: 4 | 6;
}

const V4_MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

export function originalDst(socket: net.Socket): SocketAddress {
  const b = requireNative('originalDst');
  const fd = fdOf(socket);
  const local = b.sockname(fd);
  // A v4 client on a dual-stack listener has a v4 conntrack entry.
  const family: 4 | 6 = local && local.family === 6 && !V4_MAPPED.test(local.address) ? 6 : 4;
  try {
    const dst = b.originalDst(fd, family);
    if (!dst) throw new MptcpNativeError({ code: 'EAFNOSUPPORT', syscall: 'getsockopt' }, 'originalDst: kernel returned a non-IP address');
    return dst;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EOPNOTSUPP' && b.getsockoptInt(fd, b.constants.SOL_SOCKET, b.constants.SO_PROTOCOL) === b.constants.IPPROTO_MPTCP) {
      throw new MptcpNativeError({ code: ErrorCodes.ORIGINAL_DST_MPTCP, errno: err.errno, syscall: 'getsockopt' },
        'originalDst: this accepted socket is MPTCP, and SO_ORIGINAL_DST is not supported on MPTCP sockets (EOPNOTSUPP). ' +
        'Accept redirected connections on a plain TCP listener (mptcp: \'off\'), or use TPROXY and localAddressOf().');
    }
    if (err.code === 'ENOENT') {
      err.message = 'originalDst: getsockopt SO_ORIGINAL_DST ENOENT (no NAT/conntrack entry: the connection was not REDIRECTed; under TPROXY use localAddressOf())';
    }
    throw err;
  }
}

/** getsockname: the original destination under TPROXY (and the local address otherwise). */
export function localAddressOf(socket: net.Socket): SocketAddress {
  const b = native();
  const a = b
    ? b.sockname(fdOf(socket))
    : socket.localAddress
      ? { address: socket.localAddress, port: socket.localPort ?? 0, family: (socket.localFamily === 'IPv6' ? 6 : 4) as 4 | 6 }
      : null;
  if (!a) throw new MptcpNativeError({ code: 'EAFNOSUPPORT', syscall: 'getsockname' }, 'localAddressOf: not an IP socket');
  const m = V4_MAPPED.exec(a.address);
  return m ? { address: m[1], port: a.port, family: 4 } : a;
}
