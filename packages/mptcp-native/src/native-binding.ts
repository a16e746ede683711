/**
 * The typed contract between TS and the C++ addon (build/Release/mptcp_native.node).
 * Primitive arguments only; C++ makes syscalls and throws Node-style errno errors
 * ({ code, errno, syscall }). All policy lives in the TS layer.
 */

export interface NativeConstants {
  readonly IPPROTO_TCP: number;
  readonly IPPROTO_MPTCP: number;
  readonly IPPROTO_IP: number;
  readonly IPPROTO_IPV6: number;
  readonly SOL_SOCKET: number;
  readonly SOL_MPTCP: number;
  readonly SO_REUSEADDR: number;
  readonly SO_REUSEPORT: number;
  readonly SO_MARK: number;
  readonly SO_PROTOCOL: number;
  readonly SO_KEEPALIVE: number;
  readonly IP_TRANSPARENT: number;
  readonly IP_FREEBIND: number;
  readonly IP_BIND_ADDRESS_NO_PORT: number;
  readonly IPV6_V6ONLY: number;
  readonly IPV6_TRANSPARENT: number;
  readonly IPV6_FREEBIND: number;
  readonly IP_RECVORIGDSTADDR: number;
  readonly IPV6_RECVORIGDSTADDR: number;
  readonly SO_RCVBUF: number;
  readonly TCP_NODELAY: number;
  readonly TCP_FASTOPEN: number;
  readonly TCP_FASTOPEN_CONNECT: number;
  readonly TCPI_OPT_SYN_DATA: number;
  readonly MPTCP_INFO_FLAG_FALLBACK: number;
  readonly MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED: number;
}

export interface NativeSockaddr {
  address: string;
  port: number;
  family: 4 | 6;
}

/** struct mptcp_info fields; a field is absent when the kernel's optlen does not cover it. */
export interface NativeMptcpInfo {
  optlen: number;
  extraSubflows: number;
  addAddrSignal: number;
  addAddrAccepted: number;
  subflowsMax: number;
  addAddrSignalMax: number;
  addAddrAcceptedMax: number;
  flags?: number;
  token?: number;
  writeSeq?: number;
  sndUna?: number;
  rcvNxt?: number;
  localAddrUsed?: number;
  localAddrMax?: number;
  csumEnabled?: number;
  retransmits?: number;
  bytesRetrans?: number;
  bytesSent?: number;
  bytesReceived?: number;
  bytesAcked?: number;
  subflowsTotal?: number;
  lastDataSent?: number;
  lastDataRecv?: number;
  lastAckRecv?: number;
}

/** struct tcp_info basics. */
export interface NativeTcpInfo {
  state: number;
  retransmits: number;
  options: number;
  rttUs?: number;
  rttvarUs?: number;
  cwnd?: number;
  totalRetrans?: number;
  bytesAcked?: number;
  bytesReceived?: number;
  /** tcpi_backoff, tcpi_unacked, tcpi_rto (µs), tcpi_last_data_recv and tcpi_last_ack_recv (ms ago). */
  backoff: number;
  unacked: number;
  rtoUs: number;
  lastDataRecvMs: number;
  lastAckRecvMs: number;
}

export interface NativeSubflow extends NativeTcpInfo {
  id: number;
  local: NativeSockaddr | null;
  remote: NativeSockaddr | null;
}

export interface NativeBinding {
  readonly constants: NativeConstants;
  /** socket(AF_INET|AF_INET6, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, protocol) */
  socket(family: 4 | 6, protocol: number): number;
  setsockoptInt(fd: number, level: number, name: number, value: number): void;
  getsockoptInt(fd: number, level: number, name: number): number;
  bindToDevice(fd: number, device: string): void;
  bind(fd: number, address: string, port: number): void;
  listen(fd: number, backlog: number): void;
  close(fd: number): void;
  sockname(fd: number): NativeSockaddr | null;
  peername(fd: number): NativeSockaddr | null;
  originalDst(fd: number, family: 4 | 6): NativeSockaddr | null;
  /**
   * Non-blocking connect. With waitWritable, polls for POLLOUT on the main loop (closing the
   * poll handle before cb runs) and reports SO_ERROR, or ETIMEDOUT after timeoutMs (0 = none).
   * Without it, cb runs synchronously once connect() returned 0 or EINPROGRESS.
   */
  connect(fd: number, address: string, port: number, timeoutMs: number, waitWritable: boolean,
    cb: (err: NodeJS.ErrnoException | null) => void): void;
  mptcpInfo(fd: number): NativeMptcpInfo;
  subflows(fd: number): NativeSubflow[];
  tcpInfo(fd: number): NativeTcpInfo;
  unixDgramOpen(path: string): number;
  unixDgramSend(fd: number, data: Buffer): void;
  crypt(password: string, setting: string): string;
  /** passwd/shadow hash of a system account; null if the account does not exist. */
  systemPasswordHash(user: string): string | null;
  /**
   * On the libuv thread pool: crypt(password, hash) === hash, compared in constant time. hash ''
   * (unknown user) is checked against `dummy` and never matches. A NUL in any string throws EINVAL.
   */
  cryptVerify(password: string, hash: string, dummy: string, cb: (err: NodeJS.ErrnoException | null, ok?: boolean) => void): void;
  /** The same for a system account (getpwnam/getspnam on the thread pool too); unknown/locked = dummy. */
  systemVerify(user: string, password: string, dummy: string, cb: (err: NodeJS.ErrnoException | null, ok?: boolean) => void): void;
  /** crypt_gensalt(prefix, count) with random bytes from the OS ('' = the library's default scheme). */
  cryptGensalt(prefix: string, count: number): string;
  /** prctl(PR_SET_KEEPCAPS): keep the permitted capabilities across the next setuid (this thread). */
  setKeepCaps(on: boolean): void;
  /** capset(): permitted = effective = caps (capability numbers), inheritable and ambient cleared. */
  setCapabilities(caps: number[]): void;
  /** TCP_KEEPIDLE/KEEPINTVL/KEEPCNT (each only when > 0), then SO_KEEPALIVE = enable. */
  setTcpKeepalive(fd: number, enable: boolean, idleS: number, intervalS: number, probes: number): void;
  getTcpKeepalive(fd: number): { enabled: boolean; idleS: number; intervalS: number; probes: number };
  /** AF_NETLINK SOCK_RAW|NONBLOCK|CLOEXEC socket of `protocol` (0 route, 16 generic), bound, in `groups`. */
  netlinkOpen(protocol: number, groups: number[]): number;
  /** One datagram to the kernel. */
  netlinkSend(fd: number, message: Buffer): void;
  /**
   * Every datagram read from fd on the main loop (errno 0), or (null, errno) on a read error
   * (ENOBUFS: the kernel dropped messages). Does not keep the loop alive; close() closes fd.
   */
  netlinkWatch(fd: number, cb: (datagram: Buffer | null, errno: number) => void): { close(): void };
  /** socket(AF_INET|AF_INET6, SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0) */
  dgramSocket(family: 4 | 6): number;
  /**
   * recvmsg() one datagram into buf; null when none is queued (EAGAIN). `to` is its original
   * destination when the socket set IP_RECVORIGDSTADDR / IPV6_RECVORIGDSTADDR (TPROXY), else null.
   */
  recvFrom(fd: number, buf: Buffer): NativeDatagram | null;
  /** sendto() the first `length` bytes of buf; returns the bytes sent, throws errno errors. */
  sendTo(fd: number, buf: Buffer, length: number, address: string, port: number): number;
  /** uv_poll for readability on the main loop; cb runs each time fd is readable. Returns a watch id. */
  watchReadable(fd: number, cb: (err: NodeJS.ErrnoException | null) => void, ref: boolean): number;
  /** Stops a watch at once (the fd may be closed right after); unknown ids are ignored. */
  unwatch(id: number): void;
}

export interface NativeDatagram {
  length: number;
  /** The datagram was longer than the buffer (cut to `length`). */
  truncated: boolean;
  from: NativeSockaddr | null;
  to: NativeSockaddr | null;
}

/** The second addon file, mptcp_splice.node (see splice.ts). */
export interface NativeSpliceBinding {
  /**
   * dup()s both fds, relays them through two pipes with splice(2) on the main loop (uv_poll) and
   * shutdown(SHUT_WR)s each destination after its source's EOF (firstDone: which one came first).
   * cb runs once, after the dup fds,
   * pipes and polls are closed. pipeSize: F_SETPIPE_SZ request once a pipe first fills
   * (0 = kernel default).
   */
  spliceRelay(fdA: number, fdB: number, pipeSize: number, cb: NativeRelayCallback): NativeRelayHandle;
  /**
   * The same relay on the addon's own thread (epoll, one thread per environment): the fds are
   * dup'd, so the caller may close its own right after the call. stats() reads the thread's
   * counters; shutdown() asks the thread to stop; cb runs once on the main loop, after the
   * relay's dups and pipes were closed.
   */
  nativeRelay(fdA: number, fdB: number, pipeSize: number, cb: NativeRelayCallback): NativeRelayHandle;
}

export type NativeRelayCallback = (err: NodeJS.ErrnoException | null, aToB: number, bToA: number, firstDone: 'aToB' | 'bToA' | null) => void;

export interface NativeRelayHandle {
  stats(): { aToB: number; bToA: number; aToBDone: boolean; bToADone: boolean; aToBPipe: number; bToAPipe: number } | null;
  shutdown(): void;
}
