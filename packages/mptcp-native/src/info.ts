/** MPTCP_INFO / MPTCP_FULL_INFO / TCP_INFO readers for a connected net.Socket. */
import type * as net from 'node:net';
import type { NativeMptcpInfo, NativeSockaddr, NativeTcpInfo } from './native-binding';
import { native } from './native';
import { fdOf } from './socket-fd';

export interface MptcpInfo {
  /** Total subflows including the initial one. */
  subflows: number;
  extraSubflows: number;
  flags: number;
  remoteKeyReceived: boolean;
  token: number;
  bytesSent?: number;
  bytesReceived?: number;
  bytesAcked?: number;
  bytesRetrans?: number;
  retransmits?: number;
  lastDataSent?: number;
  lastDataRecv?: number;
  lastAckRecv?: number;
  localAddrUsed?: number;
  /** Every field the kernel returned, for diagnostics. */
  raw: NativeMptcpInfo;
}

export interface SubflowInfo {
  id: number;
  local: { address: string; port: number };
  remote: { address: string; port: number };
  rttUs?: number;
  rttvarUs?: number;
  cwnd?: number;
  retransmits: number;
  totalRetrans?: number;
  bytesAcked?: number;
  bytesReceived?: number;
  /** Segments sent and not yet acknowledged (tcpi_unacked). */
  unacked?: number;
  /** Milliseconds since this subflow last received data / an ACK (tcpi_last_data_recv / _ack_recv). */
  lastDataRecvMs?: number;
  lastAckRecvMs?: number;
  /** TCP state number (1 = ESTABLISHED). */
  state: number;
  /** tcpi_options; bit 0x20 (TCPI_OPT_SYN_DATA) = data in the SYN was acked. */
  options: number;
}

/** Errors meaning "not an MPTCP connection" (v4: EOPNOTSUPP, v6: ENOPROTOOPT). */
const NOT_MPTCP = new Set(['EOPNOTSUPP', 'ENOPROTOOPT', 'ENOTSUP']);

export function mptcpInfo(socket: net.Socket): MptcpInfo | null {
  const b = native();
  if (!b) return null;
  const fd = fdOf(socket);
  let raw: NativeMptcpInfo;
  try {
    raw = b.mptcpInfo(fd);
  } catch (e) {
    if (NOT_MPTCP.has((e as NodeJS.ErrnoException).code ?? '')) return null;
    throw e;
  }
  const flags = raw.flags ?? 0;
  if (flags & b.constants.MPTCP_INFO_FLAG_FALLBACK) return null;
  return {
    subflows: raw.subflowsTotal ?? raw.extraSubflows + 1,
    extraSubflows: raw.extraSubflows,
    flags,
    remoteKeyReceived: (flags & b.constants.MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED) !== 0,
    token: raw.token ?? 0,
    bytesSent: raw.bytesSent,
    bytesReceived: raw.bytesReceived,
    bytesAcked: raw.bytesAcked,
    bytesRetrans: raw.bytesRetrans,
    retransmits: raw.retransmits,
    lastDataSent: raw.lastDataSent,
    lastDataRecv: raw.lastDataRecv,
    lastAckRecv: raw.lastAckRecv,
    localAddrUsed: raw.localAddrUsed,
    raw,
  };
}

export function isMptcp(socket: net.Socket): boolean {
  return mptcpInfo(socket) !== null;
}

const NO_ADDR = { address: '', port: 0 };
const addr = (a: NativeSockaddr | null): { address: string; port: number } => (a ? { address: a.address, port: a.port } : NO_ADDR);

export function subflows(socket: net.Socket): SubflowInfo[] {
  const b = native();
  if (!b) return [];
  const fd = fdOf(socket);
  try {
    return b.subflows(fd).map((s) => ({
      id: s.id,
      local: addr(s.local),
      remote: addr(s.remote),
      rttUs: s.rttUs,
      rttvarUs: s.rttvarUs,
      cwnd: s.cwnd,
      retransmits: s.retransmits,
      totalRetrans: s.totalRetrans,
      bytesAcked: s.bytesAcked,
      bytesReceived: s.bytesReceived,
      unacked: s.unacked,
      lastDataRecvMs: s.lastDataRecvMs,
      lastAckRecvMs: s.lastAckRecvMs,
      state: s.state,
      options: s.options,
    }));
  } catch (e) {
    if (NOT_MPTCP.has((e as NodeJS.ErrnoException).code ?? '')) return [];
    throw e;
  }
}

/** TCP_INFO (on an MPTCP socket: the first subflow); null without the addon. */
export function tcpInfo(socket: net.Socket): NativeTcpInfo | null {
  const b = native();
  return b ? b.tcpInfo(fdOf(socket)) : null;
}

/** SO_PROTOCOL: 262 for a socket created as MPTCP (even after fallback), 6 for TCP; null without the addon. */
export function socketProtocol(socket: net.Socket | net.Server): number | null {
  const b = native();
  return b ? b.getsockoptInt(fdOf(socket), b.constants.SOL_SOCKET, b.constants.SO_PROTOCOL) : null;
}
