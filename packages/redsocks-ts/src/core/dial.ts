/**
 * The single place upstream connections are made: the dial/ module (MPTCP connect via
 * mptcp-native, WAN path health, TFO, warm pool). The core only adds half-open support.
 */
import type * as net from 'node:net';
import type { BaseSection, RedsocksInstance } from '../config/types';
import { createDialer, type PathView, type PoolStats } from '../dial';
import type { RedsocksLog } from '../log/redsocks-log';
import type { DialOptions } from '../upstream/upstream';

export interface InstanceDialer {
  dial(opts?: DialOptions): Promise<net.Socket>;
  /** The WAN path health view ([] without configured paths). */
  paths(): PathView[];
  poolStats(): PoolStats;
  close(): void;
}

/** Where path and pool events appear in redsocks' `<file.c>:<line> <func>(...)` column. */
const DIAL_WHERE = 'dial.c:0 redsocks_dial(...)';

/**
 * Path and pool events in the redsocks log: failures at `err`, the rest (a path coming back,
 * a fallback to the next path, pool housekeeping) at `notice`, so they show with log_info off.
 */
export function dialLog(log: RedsocksLog): { info(m: string): void; error(m: string): void } {
  return {
    info: (m) => log.notice(m, DIAL_WHERE),
    error: (m) => log.error(m, DIAL_WHERE),
  };
}

/** The SIGUSR1 block after the client list: one line per WAN path, then the pool counters. */
export function dialerDumpLines(d: Pick<InstanceDialer, 'paths' | 'poolStats'>, now = Date.now()): string[] {
  const out: string[] = [];
  for (const p of d.paths()) {
    const rtt = p.rttMs === null ? 'rtt=?' : `rtt=${Math.round(p.rttMs)}ms`;
    const extra = [p.device ? `dev=${p.device}` : '', p.mark !== undefined ? `mark=${p.mark}` : '', p.backup ? 'backup' : '']
      .filter((x) => x)
      .join(' ');
    const since = `since=${Math.max(0, Math.round((now - p.lastChange) / 1000))}s`;
    const err = p.lastError && !p.up ? ` error="${p.lastError}"` : '';
    out.push(`path ${p.name} ${p.source} ${p.state} ${rtt} ${since}${extra ? ` ${extra}` : ''}${err}`);
  }
  const s = d.poolStats();
  if (s.size > 0) {
    out.push(
      `pool size=${s.size} idle=${s.idle} pending=${s.pending} hits=${s.hits} misses=${s.misses} refills=${s.refills} expired=${s.expired} dropped=${s.dropped} failures=${s.failures}`,
    );
  }
  return out;
}

export function createInstanceDialer(
  instance: RedsocksInstance,
  base: BaseSection,
  log?: RedsocksLog,
): InstanceDialer {
  const d = createDialer(instance, base, log ? { log: dialLog(log) } : {});
  return {
    async dial(opts) {
      const s = await d.dial(opts);
      // FIN from one side must not close the other direction
      s.allowHalfOpen = true;
      return s;
    },
    paths: () => d.paths(),
    poolStats: () => d.poolStats(),
    close: () => d.close(),
  };
}
