/**
 * connect(): an already-connected net.Socket over MPTCP (or TCP), dialled by the addon on
 * the main loop so that connect errors and the timeout surface here, as Node's own do.
 */
import * as dns from 'node:dns';
import * as net from 'node:net';
import { decorate, ErrorCodes, invalid, MptcpNativeError } from './errors';
import { native, requireNative } from './native';
import { checkMode, MptcpMode, openSocket } from './open-socket';
import { checkPort } from './validate';
import type { NativeBinding } from './native-binding';

export interface ConnectOptions {
  host: string;
  port: number;
  localAddress?: string;
  localPort?: number;
  /** SO_BINDTODEVICE */
  bindDevice?: string;
  /** SO_MARK */
  mark?: number;
  /** ms until ETIMEDOUT; 0 or absent = the kernel's SYN retries */
  timeout?: number;
  mptcp?: MptcpMode;
  /** TCP_FASTOPEN_CONNECT: resolves at once; the first write carries the SYN (+data). */
  fastOpen?: boolean;
  noDelay?: boolean;
}

function validate(opts: ConnectOptions): MptcpMode {
  if (!opts || typeof opts.host !== 'string' || opts.host === '') throw invalid('connect: host must be a non-empty string');
  checkPort('connect: port', opts.port, false);
  if (opts.localPort !== undefined) checkPort('connect: localPort', opts.localPort, true);
  if (opts.localAddress !== undefined && net.isIP(opts.localAddress) === 0) throw invalid(`connect: localAddress must be an IP literal, got ${opts.localAddress}`);
  if (opts.mark !== undefined && (!Number.isInteger(opts.mark) || opts.mark < 0 || opts.mark > 0xffffffff)) throw invalid(`connect: mark must be a 32-bit unsigned integer, got ${opts.mark}`);
  if (opts.timeout !== undefined && (typeof opts.timeout !== 'number' || !(opts.timeout >= 0) || !Number.isFinite(opts.timeout))) throw invalid(`connect: timeout must be a non-negative number of ms, got ${opts.timeout}`);
  if (opts.bindDevice !== undefined && (typeof opts.bindDevice !== 'string' || opts.bindDevice.length === 0 || opts.bindDevice.length > 15)) throw invalid(`connect: bindDevice must be an interface name, got ${opts.bindDevice}`);
  return checkMode(opts.mptcp);
}

async function resolve(host: string): Promise<{ address: string; family: 4 | 6 }[]> {
  const fam = net.isIP(host);
  if (fam !== 0) return [{ address: host, family: fam as 4 | 6 }];
  const all = await dns.promises.lookup(host, { all: true });
  return all.map((r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }));
}

/** Errors after which the next resolved address is worth a try. */
const TRY_NEXT = new Set(['ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL', 'EAFNOSUPPORT']);

export async function connect(opts: ConnectOptions): Promise<net.Socket> {
  const mode = validate(opts);
  const b = mode === 'on' ? requireNative("connect with mptcp: 'on'") : native();
  if (!b) return plainConnect(opts);
  const addrs = await resolve(opts.host);
  // Hostnames: try each address in turn (no happy eyeballs), sharing one deadline.
  const deadline = opts.timeout ? Date.now() + opts.timeout : 0;
  for (let i = 0; ; i++) {
    const timeout = deadline ? Math.max(1, deadline - Date.now()) : 0;
    try {
      return await connectOne(b, opts, mode, addrs[i].address, addrs[i].family, timeout);
    } catch (e) {
      if (i + 1 >= addrs.length || !TRY_NEXT.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
    }
  }
}

async function connectOne(b: NativeBinding, opts: ConnectOptions, mode: MptcpMode, address: string, family: 4 | 6, timeout: number): Promise<net.Socket> {
  const c = b.constants;
  const { fd } = openSocket(b, family, mode);
  try {
    if (opts.mark !== undefined) b.setsockoptInt(fd, c.SOL_SOCKET, c.SO_MARK, opts.mark | 0);
    if (opts.bindDevice !== undefined) b.bindToDevice(fd, opts.bindDevice);
    if (opts.noDelay) b.setsockoptInt(fd, c.IPPROTO_TCP, c.TCP_NODELAY, 1);
    if (opts.localAddress !== undefined || opts.localPort !== undefined) {
      const local = opts.localAddress ?? (family === 6 ? '::' : '0.0.0.0');
      // Address only: let connect() pick the port, so the 4-tuple may share ports (no EADDRINUSE).
      if (!opts.localPort) {
        try {
          b.setsockoptInt(fd, c.IPPROTO_IP, c.IP_BIND_ADDRESS_NO_PORT, 1);
        } catch {
          // best effort: without it bind() reserves a port, which still works
        }
      }
      b.bind(fd, local, opts.localPort ?? 0);
    }
    if (opts.fastOpen) b.setsockoptInt(fd, c.IPPROTO_TCP, c.TCP_FASTOPEN_CONNECT, 1);
    await new Promise<void>((res, rej) => {
      b.connect(fd, address, opts.port, timeout, !opts.fastOpen, (err) => (err ? rej(err) : res()));
    });
  } catch (e) {
    b.close(fd);
    const err = e as NodeJS.ErrnoException;
    if (err.syscall === 'connect') throw decorate(err, address, opts.port);
    if (err.syscall === 'bind') throw decorate(err, opts.localAddress ?? '', opts.localPort ?? 0);
    throw err;
  }
  try {
    return new net.Socket({ fd, readable: true, writable: true });
  } catch (e) {
    b.close(fd);
    throw e;
  }
}

/** The degrade path without the addon: Node's own connect, same promise shape. */
function plainConnect(opts: ConnectOptions): Promise<net.Socket> {
  if (opts.mark !== undefined || opts.bindDevice !== undefined) {
    return Promise.reject(new MptcpNativeError({ code: ErrorCodes.UNAVAILABLE },
      `connect: mark/bindDevice need the mptcp-native addon, which is not loaded`));
  }
  return new Promise((res, rej) => {
    const s = net.connect({ host: opts.host, port: opts.port, localAddress: opts.localAddress, localPort: opts.localPort, noDelay: opts.noDelay });
    let timer: NodeJS.Timeout | undefined;
    const fail = (err: Error): void => {
      if (timer) clearTimeout(timer);
      s.destroy();
      rej(err);
    };
    if (opts.timeout) {
      timer = setTimeout(() => fail(new MptcpNativeError({ code: 'ETIMEDOUT', syscall: 'connect', address: opts.host, port: opts.port },
        `connect ETIMEDOUT ${opts.host}:${opts.port}`)), opts.timeout);
    }
    s.once('error', fail);
    s.once('connect', () => {
      if (timer) clearTimeout(timer);
      s.removeListener('error', fail);
      res(s);
    });
  });
}
