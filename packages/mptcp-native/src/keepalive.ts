/**
 * TCP keepalive on a socket: SO_KEEPALIVE plus TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT,
 * which Node's setKeepAlive() only half covers (no interval, no probe count). Works on TCP and
 * on MPTCP sockets (the kernel applies the timers to every subflow).
 */
import type * as net from 'node:net';
import { invalid } from './errors';
import { requireNative } from './native';
import { fdOf } from './socket-fd';

export interface TcpKeepalive {
  /** Seconds without traffic before the first probe (TCP_KEEPIDLE). */
  idleS?: number;
  /** Seconds between probes (TCP_KEEPINTVL). */
  intervalS?: number;
  /** Unanswered probes before the connection is dropped (TCP_KEEPCNT). */
  probes?: number;
}

export interface TcpKeepaliveState {
  enabled: boolean;
  idleS: number;
  intervalS: number;
  probes: number;
}

// The kernel's limits: MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT.
const LIMITS = { idleS: 32767, intervalS: 32767, probes: 127 } as const;

function check(what: keyof typeof LIMITS, v: number | undefined): number {
  if (v === undefined || v === 0) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > LIMITS[what]) {
    throw invalid(`setTcpKeepalive: ${what} must be an integer 1..${LIMITS[what]} (or 0/absent for the kernel's value), got ${String(v)}`);
  }
  return v;
}

const fdArg = (s: number | net.Socket): number => (typeof s === 'number' ? s : fdOf(s));

/**
 * Turns keepalive on with the given timers; an absent or 0 timer keeps the kernel's value
 * (net.ipv4.tcp_keepalive_*). `false` turns keepalive off. Errno errors are Node-style
 * ({ code, errno, syscall: 'setsockopt' }); bad values throw ERR_INVALID_ARG_VALUE.
 */
export function setTcpKeepalive(sock: number | net.Socket, opts: TcpKeepalive | false): void {
  const b = requireNative('setTcpKeepalive');
  const fd = fdArg(sock);
  if (opts === false) return b.setTcpKeepalive(fd, false, 0, 0, 0);
  b.setTcpKeepalive(fd, true, check('idleS', opts.idleS), check('intervalS', opts.intervalS), check('probes', opts.probes));
}

/** The socket's keepalive switch and the timers in effect (the kernel's defaults if never set). */
export function getTcpKeepalive(sock: number | net.Socket): TcpKeepaliveState {
  return requireNative('getTcpKeepalive').getTcpKeepalive(fdArg(sock));
}
