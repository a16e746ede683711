/**
 * Which WAN path a new connection's initial subflow starts on (docs/ARCHITECTURE.md, "dial/";
 * packages/redsocks-ts/docs/fast-by-default.md, "Spreading new connections").
 *
 * A connection's first round trips, and all of a short one, travel on its initial subflow: the
 * kernel joins the other paths only once the connection is fully established, and its scheduler
 * keeps preferring the subflow that already has a window. When every connection starts on the
 * first path, a browser's burst of short connections loads that ISP and leaves the other one
 * nearly idle. So among the live paths that are as fast as the fastest (equal cost), a new
 * connection starts on the one carrying the fewest connections; otherwise on the fastest
 * (`leadPath`), whatever the order the paths are listed in. A slower path is never chosen for
 * a first subflow while a faster one is trusted (its RTT would be every first byte's).
 *
 * The same reasoning decides which pooled connections are worth handing out (`worthTaking`):
 * a pooled connection's first byte takes one RTT of its path, a fresh connect's about
 * FRESH_CONNECT_RTTS of the fastest path's. A pool refilled on the slow path while the fast
 * one was down would otherwise serve every new connection at the slow path's RTT until it was
 * used up, and be the first thing taken when the slow path dies in turn.
 */
import type { PathView } from './path-health';

/** A path is as fast as the fastest if its connect RTT is within this factor ... */
export const EQUAL_COST_FACTOR = 1.25;
/** ... plus this many ms (jitter on short RTTs). */
export const EQUAL_COST_SLACK_MS = 5;

/**
 * The equal-cost paths among `paths` (in their order): trusted (`usable`), not backup, with a
 * measured RTT within EQUAL_COST_FACTOR x the fastest + EQUAL_COST_SLACK_MS. Fewer than two:
 * nothing to spread over ([]).
 */
export function equalCostPaths(paths: PathView[], usable: (name: string) => boolean): PathView[] {
  const live = paths.filter((p) => usable(p.name) && !p.backup && p.rttMs !== null);
  if (live.length < 2) return [];
  const best = Math.min(...live.map((p) => p.rttMs as number));
  const peers = live.filter((p) => (p.rttMs as number) <= best * EQUAL_COST_FACTOR + EQUAL_COST_SLACK_MS);
  return peers.length >= 2 ? peers : [];
}

/**
 * The path a fresh connect starts on: of the equal-cost paths, the one with the lowest `load`;
 * with none, the fastest trusted non-backup path with a measured RTT; else undefined (the
 * candidates' own order).
 */
export function leadPath(paths: PathView[], usable: (name: string) => boolean, load: (name: string) => number): PathView | undefined {
  const spread = leastLoaded(equalCostPaths(paths, usable), load);
  if (spread) return spread;
  let fastest: PathView | undefined;
  for (const p of paths) {
    if (!usable(p.name) || p.backup || p.rttMs === null) continue;
    if (!fastest || p.rttMs < (fastest.rttMs as number)) fastest = p;
  }
  return fastest;
}

/** Round trips of the fastest path before a fresh connection's first byte: connect, then request. */
export const FRESH_CONNECT_RTTS = 2;
/**
 * ... and by how many ms a fresh connect must win before a pooled connection is passed over
 * (and closed): RTT jitter, a queue's passing spike, the connect's own cost (with 5 ms, paths of
 * a few ms in a loaded CI run lost their pooled connections to each other).
 */
export const WORTH_SLACK_MS = 20;

/**
 * The names of the paths whose pooled connections are worth taking: trusted (`usable`); while
 * any non-backup path is trusted, not backup (a metered path only stands in for the others);
 * and with a measured RTT below FRESH_CONNECT_RTTS x the fastest of those + WORTH_SLACK_MS, or
 * none measured.
 */
export function worthTaking(paths: PathView[], usable: (name: string) => boolean): Set<string> {
  const trusted = paths.filter((p) => usable(p.name));
  const primary = trusted.filter((p) => !p.backup);
  const pool = primary.length > 0 ? primary : trusted;
  const rtts = pool.filter((p) => p.rttMs !== null).map((p) => p.rttMs as number);
  const best = rtts.length > 0 ? Math.min(...rtts) : Infinity;
  return new Set(pool.filter((p) => p.rttMs === null || p.rttMs < FRESH_CONNECT_RTTS * best + WORTH_SLACK_MS).map((p) => p.name));
}

/** The path of `paths` with the lowest `load` (the first on a tie), or undefined for none. */
export function leastLoaded(paths: PathView[], load: (name: string) => number): PathView | undefined {
  let pick: PathView | undefined;
  let min = Infinity;
  for (const p of paths) {
    const n = load(p.name);
    if (n < min) {
      min = n;
      pick = p;
    }
  }
  return pick;
}

/** Open connections per path, each counted until its socket closes. */
export class PathCounts {
  private readonly n = new Map<string, number>();

  get(name: string): number {
    return this.n.get(name) ?? 0;
  }

  /** Counts `socket` on `name` until it closes. */
  add(name: string, socket: { once(ev: 'close', f: () => void): unknown }): void {
    this.n.set(name, this.get(name) + 1);
    socket.once('close', () => this.n.set(name, this.get(name) - 1));
  }
}
