/**
 * UdpSocket: the UDP sockets Node's dgram cannot make (docs/ARCHITECTURE.md, mptcp-native).
 * - a TPROXY listener: IP_TRANSPARENT + IP_RECVORIGDSTADDR, each datagram arrives with its
 *   original destination (`to`);
 * - a sender bound to a non-local address and port (IP_TRANSPARENT), for replies that must
 *   look as if they came from that destination;
 * - a socket pinned to a WAN path (source address, SO_BINDTODEVICE, SO_MARK).
 * The C++ side only makes syscalls (dgramSocket, recvFrom, sendTo, a readable watch); the
 * options, the receive loop and the events are here.
 */
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { invalid } from './errors';
import type { NativeBinding } from './native-binding';
import { requireNative } from './native';
import type { SocketAddress } from './original-dst';
import { checkPort } from './validate';

export interface UdpSocketOptions {
  /** IP literal to bind; its family is the socket's. */
  address: string;
  port: number;
  /** IP_TRANSPARENT / IPV6_TRANSPARENT: receive TPROXY'd datagrams, bind a non-local address. */
  transparent?: boolean;
  /** IP_RECVORIGDSTADDR / IPV6_RECVORIGDSTADDR: every message carries its original destination. */
  origDst?: boolean;
  /** SO_REUSEADDR (several transparent senders bound to one destination address:port). */
  reuseAddr?: boolean;
  /** IPV6_V6ONLY for an IPv6 socket (default: the system's). */
  ipv6Only?: boolean;
  /** SO_BINDTODEVICE */
  device?: string;
  /** SO_MARK */
  mark?: number;
  /** false: the socket does not keep the process alive (default true). */
  ref?: boolean;
}

export interface UdpMessageInfo {
  from: SocketAddress;
  /** The original destination (only with origDst). */
  to?: SocketAddress;
}

/** At most this many datagrams are read per readable event, so one busy socket cannot starve the loop. */
const MAX_PER_WAKEUP = 256;
const MAX_DATAGRAM = 65535;

const V4_MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

function plain(a: SocketAddress): SocketAddress {
  const m = V4_MAPPED.exec(a.address);
  return m ? { address: m[1], port: a.port, family: 4 } : a;
}

/**
 * Events: 'message' (data: Buffer, info: UdpMessageInfo), 'error' (a receive error; only
 * emitted when someone listens), 'close'.
 */
export class UdpSocket extends EventEmitter {
  readonly family: 4 | 6;
  private fd: number;
  private watch = 0;
  private readonly buf = Buffer.allocUnsafe(MAX_DATAGRAM);

  private constructor(private readonly b: NativeBinding, fd: number, family: 4 | 6) {
    super();
    this.fd = fd;
    this.family = family;
  }

  /** Opens, configures and binds the socket; throws an errno error (with address/port) on failure. */
  static open(opts: UdpSocketOptions): UdpSocket {
    const b = requireNative('UdpSocket');
    const family = net.isIP(opts.address);
    if (family === 0) throw invalid(`UdpSocket: address must be an IP literal, got ${opts.address}`);
    checkPort('UdpSocket: port', opts.port, true);
    const c = b.constants;
    const fd = b.dgramSocket(family as 4 | 6);
    const v6 = family === 6;
    try {
      if (opts.reuseAddr) b.setsockoptInt(fd, c.SOL_SOCKET, c.SO_REUSEADDR, 1);
      if (v6 && opts.ipv6Only !== undefined) b.setsockoptInt(fd, c.IPPROTO_IPV6, c.IPV6_V6ONLY, opts.ipv6Only ? 1 : 0);
      if (opts.transparent) b.setsockoptInt(fd, v6 ? c.IPPROTO_IPV6 : c.IPPROTO_IP, v6 ? c.IPV6_TRANSPARENT : c.IP_TRANSPARENT, 1);
      if (opts.origDst) {
        b.setsockoptInt(fd, c.IPPROTO_IP, c.IP_RECVORIGDSTADDR, 1);
        if (v6) b.setsockoptInt(fd, c.IPPROTO_IPV6, c.IPV6_RECVORIGDSTADDR, 1);
      }
      if (opts.device) b.bindToDevice(fd, opts.device);
      if (opts.mark !== undefined) b.setsockoptInt(fd, c.SOL_SOCKET, c.SO_MARK, opts.mark);
      b.bind(fd, opts.address, opts.port);
    } catch (e) {
      b.close(fd);
      const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
      err.address = opts.address;
      err.port = opts.port;
      err.message = `${err.syscall ?? 'udp'} ${err.code ?? ''} ${opts.address}:${opts.port}`.replace(/\s+/g, ' ');
      throw err;
    }
    const sock = new UdpSocket(b, fd, family as 4 | 6);
    sock.watch = b.watchReadable(fd, () => sock.drain(), opts.ref !== false);
    return sock;
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  /** The bound address (a v4-mapped IPv6 address is given as IPv4). */
  address(): SocketAddress {
    const a = this.fd >= 0 ? this.b.sockname(this.fd) : null;
    if (!a) throw invalid('UdpSocket: closed');
    return plain(a);
  }

  /** Sends one datagram; throws the errno error (ENETUNREACH, EAGAIN for a full buffer, ...). */
  send(data: Buffer, address: string, port: number): void {
    if (this.fd < 0) throw invalid('UdpSocket: closed');
    // An IPv4 destination from an IPv6 socket goes as v4-mapped.
    const to = this.family === 6 && net.isIPv4(address) ? `::ffff:${address}` : address;
    this.b.sendTo(this.fd, data, data.length, to, port);
  }

  close(): void {
    if (this.fd < 0) return;
    this.b.unwatch(this.watch);
    this.b.close(this.fd);
    this.fd = -1;
    this.emit('close');
  }

  private drain(): void {
    for (let i = 0; i < MAX_PER_WAKEUP && this.fd >= 0; i++) {
      let d;
      try {
        d = this.b.recvFrom(this.fd, this.buf);
      } catch (err) {
        // ECONNREFUSED and the like: an ICMP error for an earlier send; the socket stays usable.
        if (this.listenerCount('error') > 0) this.emit('error', err);
        continue;
      }
      if (d === null) return;
      if (!d.from) continue;
      const info: UdpMessageInfo = { from: plain(d.from) };
      if (d.to) info.to = plain(d.to);
      this.emit('message', Buffer.from(this.buf.subarray(0, d.length)), info);
    }
  }
}
