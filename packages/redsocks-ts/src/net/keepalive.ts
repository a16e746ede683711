/**
 * redsocks' apply_tcp_keepalive(): SO_KEEPALIVE is always on for the client and relay sockets,
 * and each non-zero tcp_keepalive_time / _intvl / _probes sets TCP_KEEPIDLE / KEEPINTVL /
 * KEEPCNT (0 keeps the kernel's net.ipv4.tcp_keepalive_*). Node's setKeepAlive() only covers
 * the idle time, so the interval and the probe count go through mptcp-native.
 */
import type * as net from 'node:net';
import { addonStatus, setTcpKeepalive } from 'mptcp-native';
import type { BaseSection } from '../config/types';

export type KeepaliveSettings = Pick<BaseSection, 'tcpKeepaliveTime' | 'tcpKeepaliveIntvl' | 'tcpKeepaliveProbes'>;

export function applyTcpKeepalive(s: net.Socket, base: KeepaliveSettings | undefined): void {
  const idleS = base?.tcpKeepaliveTime ?? 0;
  const intervalS = base?.tcpKeepaliveIntvl ?? 0;
  const probes = base?.tcpKeepaliveProbes ?? 0;
  // Through the addon even with every timer 0: one setsockopt (SO_KEEPALIVE) per socket, where
  // Node's setKeepAlive(true, 0) adds a TCP_KEEPIDLE of 0 that the kernel refuses (EINVAL).
  if (addonStatus().loaded) {
    try {
      setTcpKeepalive(s, { idleS, intervalS, probes });
      return;
    } catch {
      // a socket already closed (EBADF), an out-of-range value, or an older kernel that rejects
      // TCP_KEEP* on MPTCP sockets: Node's call below still turns keepalive on
    }
  }
  // Without the addon only the idle time can be set; the config check says so once.
  s.setKeepAlive(true, idleS * 1000);
}

/** The config-time notice when interval/probes are set but cannot be applied. */
export function keepaliveLimitation(base: KeepaliveSettings): string | undefined {
  if (base.tcpKeepaliveIntvl === 0 && base.tcpKeepaliveProbes === 0) return undefined;
  const st = addonStatus();
  if (st.loaded) return undefined;
  return `tcp_keepalive_intvl/tcp_keepalive_probes need the mptcp-native addon, which is not loaded (${st.reason ?? 'unknown reason'}); only tcp_keepalive_time is applied`;
}
