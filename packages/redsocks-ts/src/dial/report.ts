/**
 * How the dialer shows in redsocks' log: its path and pool events, and its block of the
 * SIGUSR1 dump (both not in redsocks, which has no WAN paths or pool).
 */
import type { RedsocksLog } from '../log/redsocks-log';
import type { Dialer } from './dialer';
import type { HealthLog } from './path-health';

/** Where path and pool events appear in redsocks' `<file.c>:<line> <func>(...)` column. */
const DIAL_WHERE = 'dial.c:0 redsocks_dial(...)';

/**
 * Path and pool events in the redsocks log: failures at `err`, the rest (a path coming back,
 * a fallback to the next path, pool housekeeping) at `notice`, so they show with log_info off.
 */
export function dialLog(log: RedsocksLog): HealthLog {
  return {
    info: (m) => log.notice(m, DIAL_WHERE),
    error: (m) => log.error(m, DIAL_WHERE),
  };
}

/**
 * The SIGUSR1 block after the client list: one line per WAN path (with a pool, `pooled=N`: its
 * idle connections whose initial subflow is on that path), then the pool counters.
 */
export function dialerDumpLines(d: Pick<Dialer, 'paths' | 'poolStats'> & { kernel?: Dialer['kernel'] }, now = Date.now()): string[] {
  const out: string[] = [];
  const none = d.kernel?.none();
  if (none !== undefined && d.paths().length === 0) out.push(`paths auto: none (${none})`);
  const withdrawn = new Set(d.kernel?.withdrawnAddresses() ?? []);
  const s = d.poolStats();
  for (const p of d.paths()) {
    const rtt = p.rttMs === null ? 'rtt=?' : `rtt=${Math.round(p.rttMs)}ms`;
    const extra = [p.device ? `dev=${p.device}` : '', p.mark !== undefined ? `mark=${p.mark}` : '', p.backup ? 'backup' : '']
      .filter((x) => x)
      .join(' ');
    const since = `since=${Math.max(0, Math.round((now - p.lastChange) / 1000))}s${s.size > 0 ? ` pooled=${s.idleByPath?.[p.name] ?? 0}` : ''}`;
    const err = p.lastError && !p.up && p.lastError !== p.why ? ` error="${p.lastError}"` : '';
    const why = p.why ? ` auto="${p.why}"` : '';
    const w = withdrawn.has(p.source) ? ' endpoint=withdrawn' : '';
    out.push(`path ${p.name} ${p.source} ${p.state} ${rtt} ${since}${extra ? ` ${extra}` : ''}${w}${err}${why}`);
  }
  if (s.size > 0) {
    out.push(
      `pool size=${s.size} idle=${s.idle} pending=${s.pending} hits=${s.hits} misses=${s.misses} refills=${s.refills} expired=${s.expired} dropped=${s.dropped} failures=${s.failures} idle_timeout=${Math.round(s.idleTimeoutMs / 1000)}s${s.auto ? ' auto' : ''}`,
    );
  }
  return out;
}
