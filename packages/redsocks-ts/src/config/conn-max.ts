import type { RedsocksConfig } from './types';

/**
 * redsocks' default for `redsocks_conn_max = 0`: three quarters of the fd limit, divided
 * by the fds one client costs (2 sockets, or 6 when any instance splices through pipes).
 */
export function defaultConnMax(nofile: number, splice: boolean): number {
  const n = Math.max(0, Math.floor(nofile));
  return Math.floor((n - Math.floor(n / 4)) / (splice ? 6 : 2));
}

/**
 * The connection cap the daemon enforces. `nofile` is the current RLIMIT_NOFILE soft limit
 * (after `rlimit_nofile` was applied).
 */
export function effectiveConnMax(config: RedsocksConfig, nofile: number): number {
  if (config.base.redsocksConnMax > 0) return config.base.redsocksConnMax;
  const splice = config.redsocks.some((r) => r.splice);
  return defaultConnMax(nofile, splice);
}
