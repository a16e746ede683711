/**
 * listen(): the listening socket is made natively (IPPROTO_MPTCP plus the options Node cannot
 * set) and handed to net with server.listen({fd}). Plain TCP clients are accepted too: the
 * kernel gives them a plain TCP socket.
 */
import * as net from 'node:net';
import { ErrorCodes, invalid, MptcpNativeError } from './errors';
import { native, requireNative, warnOnce } from './native';
import { checkMode, MptcpMode, openSocket } from './open-socket';
import { checkPort } from './validate';

export interface ListenOptions {
  /** IP literal; default '0.0.0.0' */
  host?: string;
  port: number;
  backlog?: number;
  reusePort?: boolean;
  /** IP_TRANSPARENT (TPROXY) */
  transparent?: boolean;
  /** IP_FREEBIND */
  freebind?: boolean;
  /** TCP_FASTOPEN queue length; 0/absent = off */
  fastOpen?: number;
  ipv6Only?: boolean;
  mptcp?: MptcpMode;
  /** TCP_NODELAY on every accepted socket (net.createServer's noDelay) */
  noDelay?: boolean;
}

function validate(opts: ListenOptions): MptcpMode {
  if (!opts) throw invalid('listen: options required');
  checkPort('listen: port', opts.port, true);
  if (opts.host !== undefined && net.isIP(opts.host) === 0) throw invalid(`listen: host must be an IP literal, got ${opts.host}`);
  if (opts.backlog !== undefined && (!Number.isInteger(opts.backlog) || opts.backlog < 0)) throw invalid(`listen: backlog must be a non-negative integer, got ${opts.backlog}`);
  if (opts.fastOpen !== undefined && (!Number.isInteger(opts.fastOpen) || opts.fastOpen < 0)) throw invalid(`listen: fastOpen must be a queue length >= 0, got ${opts.fastOpen}`);
  return checkMode(opts.mptcp);
}

export async function listen(opts: ListenOptions, connectionListener?: (socket: net.Socket) => void): Promise<net.Server> {
  const mode = validate(opts);
  const host = opts.host ?? '0.0.0.0';
  const backlog = opts.backlog ?? 511;
  const b = mode === 'on' ? requireNative("listen with mptcp: 'on'") : native();
  const server = net.createServer({ noDelay: opts.noDelay === true }, connectionListener);
  if (!b) {
    if (opts.transparent || opts.freebind) {
      throw new MptcpNativeError({ code: ErrorCodes.UNAVAILABLE }, 'listen: transparent/freebind need the mptcp-native addon, which is not loaded');
    }
    if (opts.reusePort || opts.fastOpen) warnOnce('MPTCP_NATIVE_LISTEN_OPTS', 'mptcp-native: reusePort/fastOpen ignored without the addon');
    return listenOn(server, { host, port: opts.port, backlog, ipv6Only: opts.ipv6Only });
  }
  const family = net.isIP(host) as 4 | 6;
  const c = b.constants;
  const { fd } = openSocket(b, family, mode);
  try {
    b.setsockoptInt(fd, c.SOL_SOCKET, c.SO_REUSEADDR, 1);
    if (opts.reusePort) b.setsockoptInt(fd, c.SOL_SOCKET, c.SO_REUSEPORT, 1);
    if (family === 6 && opts.ipv6Only !== undefined) b.setsockoptInt(fd, c.IPPROTO_IPV6, c.IPV6_V6ONLY, opts.ipv6Only ? 1 : 0);
    if (opts.transparent) {
      b.setsockoptInt(fd, family === 6 ? c.IPPROTO_IPV6 : c.IPPROTO_IP, family === 6 ? c.IPV6_TRANSPARENT : c.IP_TRANSPARENT, 1);
    }
    if (opts.freebind) b.setsockoptInt(fd, family === 6 ? c.IPPROTO_IPV6 : c.IPPROTO_IP, family === 6 ? c.IPV6_FREEBIND : c.IP_FREEBIND, 1);
    if (opts.fastOpen) b.setsockoptInt(fd, c.IPPROTO_TCP, c.TCP_FASTOPEN, opts.fastOpen);
    b.bind(fd, host, opts.port);
    b.listen(fd, backlog);
  } catch (e) {
    b.close(fd);
    const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
    if (err.syscall === 'bind' || err.syscall === 'listen') {
      err.address = host;
      err.port = opts.port;
      err.message = `${err.syscall} ${err.code} ${host}:${opts.port}`;
    }
    throw err;
  }
  try {
    return await listenOn(server, { fd, backlog });
  } catch (e) {
    try {
      b.close(fd);
    } catch {
      // net may already have closed it with its handle
    }
    throw e;
  }
}

function listenOn(server: net.Server, what: net.ListenOptions | { fd: number; backlog: number }): Promise<net.Server> {
  return new Promise((res, rej) => {
    const onError = (err: Error): void => rej(err);
    server.once('error', onError);
    // The { fd } form is documented (server.listen(handle)) but missing from ListenOptions typings.
    server.listen(what as net.ListenOptions, () => {
      server.removeListener('error', onError);
      res(server);
    });
  });
}
