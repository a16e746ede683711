/**
 * Kernel settings the daemon cannot make up for by itself, said once at start (issue 10 §5):
 * what is left after the dialer's own failover (paths, endpoint withdrawal). `mptcp-gateway
 * doctor` flags the same settings with the same fix.
 */
import type { RedsocksConfig } from '../config/types';

export function kernelNotes(config: RedsocksConfig, readSysctl: (key: string) => string | undefined): string[] {
  const notes: string[] = [];
  if (!config.redsocks.some((r) => r.mptcp !== 'off')) return notes;
  const bh = readSysctl('net.mptcp.blackhole_timeout');
  if (bh !== undefined && Number(bh) > 0) {
    notes.push(
      `net.mptcp.blackhole_timeout is ${bh}: after an ISP outage the kernel may open every new connection of this host as plain TCP ` +
        '(one ISP, no failover) for up to that many seconds, and redsocks-ts cannot turn that off per connection; ' +
        'fix: sysctl -w net.mptcp.blackhole_timeout=0 (see `mptcp-gateway doctor`)',
    );
  }
  return notes;
}
