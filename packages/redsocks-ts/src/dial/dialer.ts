/**
 * The upstream dialer of one `redsocks {}` section, the one place upstream connections are
 * made: MPTCP connect to the proxy through mptcp-native, the initial subflow on a live WAN
 * path, TCP Fast Open on request, and a warm pool of idle established connections. It never
 * names a protocol.
 */
import type * as net from 'node:net';
import { debuglog } from 'node:util';
import * as mptcpNative from 'mptcp-native';
import type { BaseSection, DialKeys, RedsocksSection } from '../config/types';
import { applyTcpKeepalive } from '../net/keepalive';
import type { DialOptions, Dialed } from '../upstream/upstream';
import { PATH_PROBE_GREETING } from '@mptcp-proxy/common';
import { PathHealth, isPathFailure, type ConnectLike, type HealthLog, type PathView } from './path-health';
import { KernelPaths } from './kernel-paths';
import type { AutoPath } from './derive-paths';
import { WarmPool, type PoolStats, type PooledConn } from './warm-pool';
import { poolChannel } from '../events';
import { TlsLayer } from './tls-layer';
import { writeAfterIdle } from './after-idle';
import { PathCounts, equalCostPaths, leadPath, worthTaking } from './path-spread';

/**
 * What a dialer needs from its section: the proxy, the DialKeys, and (for `redsocks {}`) the
 * warm pool's keys. `redudp {}` and `dns {}` have no pool.
 */
export type DialSection = DialKeys & Pick<RedsocksSection, 'ip' | 'port'>
  & Partial<Pick<RedsocksSection, 'poolSize' | 'poolIdleTimeout' | 'tls' | 'localIp' | 'localPort' | 'type'>>;

export interface Dialer {
  /** A connection to section.ip:port (from the pool when allowed and available). */
  dial(opts?: DialOptions): Promise<Dialed>;
  /** Pool counters (all zero when pool_size = 0). */
  poolStats(): PoolStats;
  /** The WAN path health view ([] when no paths are configured). */
  paths(): PathView[];
  /** Resolves once the pool holds pool_size ready connections (at once without a pool). */
  poolReady(): Promise<void>;
  /** Runs one probe round now (tests, the demo's refresh). */
  probePaths(): Promise<void>;
  readonly health: PathHealth | undefined;
  /** The kernel's view (`paths = auto`) and the path manager control; undefined without paths. */
  readonly kernel: KernelPaths | undefined;
  close(): void;
}

export interface DialerOptions {
  log?: HealthLog;
  /** Replaces mptcp-native's connect (for a wrapper that counts or traces; still real sockets). */
  connect?: ConnectLike;
  /**
   * Act on the in-kernel path manager (default true): withdraw a dead path's endpoint and put
   * it back when the path answers; with `paths = auto`, also repair endpoints and routes.
   */
  pathManager?: boolean;
}

/** Live connections whose subflows are watched for stalls, and how often. */
const MAX_WATCHED = 256;
const WATCH_MS = 250;
/** Consecutive RTOs on an established subflow that count as "this path stopped answering". */
const STALL_RTOS = 3;
/** Floor of the silence (no ACK for sent data, no data while a sibling receives) that is a stall. */
const STALL_SILENCE_MIN_MS = 300;


interface Progress {
  bytes: number;
  at: number;
  /** Data arrived on this subflow while it was watched. */
  carried: boolean;
}

/**
 * Why a live connection's established subflow looks stalled, or undefined (issue 10 §3):
 * - `STALL_RTOS` RTOs in a row (the gateway is sending and nothing is acknowledged);
 * - data unacknowledged for max(4 x its RTT, 300 ms) (an upload on a dead path);
 * - it carried data, then nothing for that long while another subflow of the same
 *   connection kept receiving (a download whose server-side sender is stuck on a dead path;
 *   the gateway only sends bare ACKs, which are never retransmitted, so no RTO shows here).
 */
function stallOf(sf: mptcpNative.SubflowInfo, all: mptcpNative.SubflowInfo[], seen: Map<string, Progress>, now: number, watchedMs: number): string | undefined {
  if (sf.retransmits >= STALL_RTOS) return `had ${sf.retransmits} RTOs in a row`;
  const limit = Math.max(STALL_SILENCE_MIN_MS, 4 * ((sf.rttUs ?? 0) / 1000));
  // A pooled connection's last ACK is as old as its idle time when its first flight goes out:
  // only data unacknowledged for longer than it has been watched says anything.
  if ((sf.unacked ?? 0) > 0 && (sf.lastAckRecvMs ?? 0) > limit && watchedMs > limit) return `has ${sf.unacked} segments unacknowledged for ${sf.lastAckRecvMs} ms`;
  const mine = seen.get(`${sf.local.address}:${sf.local.port}`);
  if (!mine?.carried || now - mine.at <= limit) return undefined;
  const other = all.find((o) => {
    if (o === sf) return false;
    const p = seen.get(`${o.local.address}:${o.local.port}`);
    return p !== undefined && now - p.at <= WATCH_MS * 2 && p.carried;
  });
  return other ? `received nothing for ${now - mine.at} ms while ${other.local.address} kept receiving` : undefined;
}

/**
 * Bytes the server acknowledged or sent on a connection, from the kernel (MPTCP data level and
 * every subflow, or TCP_INFO without MPTCP); undefined when the kernel does not report them.
 */
function progressOf(s: net.Socket): number | undefined {
  try {
    const tcp = mptcpNative.tcpInfo(s);
    if (tcp?.bytesAcked === undefined) return undefined;
    const info = mptcpNative.mptcpInfo(s);
    const sfs = info ? mptcpNative.subflows(s) : [];
    return (
      tcp.bytesAcked + (tcp.bytesReceived ?? 0) + (info?.bytesAcked ?? 0) + (info?.bytesReceived ?? 0) +
      sfs.reduce((n, sf) => n + (sf.bytesAcked ?? 0) + (sf.bytesReceived ?? 0), 0)
    );
  } catch {
    return undefined;
  }
}

const debug = debuglog('redsocks-ts-dial');
/** Without a logger from the daemon, path and pool events go to NODE_DEBUG=redsocks-ts-dial. */
const debugLog: HealthLog = { info: (m) => debug('%s', m), error: (m) => debug('%s', m) };

export function createDialer(section: DialSection, base?: BaseSection, opts: DialerOptions = {}): Dialer {
  const connect = opts.connect ?? mptcpNative.connect;
  const log = opts.log ?? debugLog;
  const target = { host: section.ip, port: section.port };
  // the section's `local_ip:local_port`, as events.ts names instances
  const instanceName = `${section.localIp ?? '?'}:${section.localPort ?? 0}`;
  /** TLS to the proxy (docs/tls.md): a layer over every upstream socket, pooled or not. */
  const tlsLayer = section.tls ? new TlsLayer(section.tls, section.ip) : undefined;
  // Fixed paths win over auto (a section built in code may carry both).
  const auto = section.pathsAuto === true && section.paths.length === 0;
  const health =
    section.paths.length > 0 || auto
      ? new PathHealth(section.paths, target, {
          probeIntervalMs: section.pathProbeInterval,
          probeTimeoutMs: section.pathProbeTimeout,
          connect,
          log,
          // redudp and dns sections speak SOCKS5 (no `type`)
          probeGreeting: section.type === undefined || section.type === 'socks5' ? PATH_PROBE_GREETING : undefined,
          backupProbeIntervalMs: section.pathBackupProbeInterval,
        })
      : undefined;
  // `paths = auto` follows the kernel; with fixed paths it only acts on the path manager (§5).
  const kernel =
    health && (auto || (section.mptcp !== 'off' && opts.pathManager !== false))
      ? new KernelPaths({ proxy: section.ip, log, follow: auto, repair: opts.pathManager !== false })
      : undefined;
  if (kernel && health && auto) kernel.on('paths', (ps: AutoPath[]) => health.setPaths(ps));

  async function attempt(p: PathView | undefined, last: boolean, fastOpen: boolean): Promise<PooledConn> {
    const t0 = process.hrtime.bigint();
    // TFO returns before the SYN is answered, so a dead path would only show up as a hung
    // handshake: use it only on a path a probe or connect has just seen working.
    // Never on an MPTCP socket: after a SYN with data, MPTCP (Linux 6.18) receives at a fraction
    // of the link rate (docs/optimistic-connect.md, "TCP Fast Open"; the config warns).
    const tfo = fastOpen && section.mptcp === 'off' && (!p || p.state === 'up');
    const socket = await connect({
      host: target.host,
      port: target.port,
      localAddress: p?.source,
      bindDevice: p?.device,
      mark: p?.mark,
      timeout: p && health ? health.attemptTimeout(p, last) : undefined,
      mptcp: section.mptcp,
      fastOpen: tfo,
      // redsocks relays small writes at once; Nagle would hold a second small write (e.g. the
      // client's request after the handshake) until the first is ACKed: one WAN RTT. Set before
      // connect (no setNoDelay afterwards) so even a TFO SYN's follow-up segments are not held.
      noDelay: true,
    });
    if (p && health) {
      // With TFO the connect has not happened yet: nothing to measure.
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (!tfo) health.reportSuccess(p.name, Math.round(ms * 10) / 10);
      openOn.add(p.name, socket);
    }
    // redsocks turns SO_KEEPALIVE on for every relay socket (tcp_keepalive_* as configured).
    applyTcpKeepalive(socket, base);
    // The relay propagates half-close: the upstream side must not auto-end on EOF.
    socket.allowHalfOpen = true;
    if (tlsLayer) {
      try {
        return { socket: await tlsLayer.wrap(socket, p && health ? health.attemptTimeout(p, last) : undefined), path: p?.name, raw: socket };
      } catch (e) {
        socket.destroy();
        throw e;
      }
    }
    return { socket, path: p?.name };
  }

  /**
   * Happy-eyeballs over WAN paths: the best path first; if it has not connected within its
   * stagger delay (srtt + 4 x rttvar of its connects, 50 ms..2 x srtt; 250 ms before any RTT is
   * known) the next live one starts too, and a path failure starts the next one at once. The
   * first connection wins; the others are closed when they complete (their failures still
   * feed the health view).
   */
  function fresh(fastOpen: boolean): Promise<PooledConn> {
    if (!health || health.size === 0) return attempt(undefined, true, fastOpen);
    const h = health;
    const candidates = h.candidates();
    // Equal-cost paths: start on the one with the fewest open connections; else on the fastest (path-spread.ts).
    const lead = leadPath(candidates, (n) => h.trusted(n), (n) => openOn.get(n));
    if (lead && lead.name !== candidates[0].name) {
      candidates.splice(candidates.findIndex((p) => p.name === lead.name), 1);
      candidates.unshift(lead);
    }
    return new Promise((resolve, reject) => {
      let next = 0;
      let running = 0;
      let settled = false;
      let stop = false;
      let firstErr: unknown;
      const pending = new Set<string>();
      const start = (): void => {
        if (settled || stop || next >= candidates.length) return;
        const p = candidates[next++];
        const last = next === candidates.length;
        running++;
        pending.add(p.name);
        const stagger = last || !p.up ? undefined : setTimeout(startLive, h.staggerDelay(p));
        stagger?.unref();
        attempt(p, last, fastOpen).then(
          (conn) => {
            running--;
            pending.delete(p.name);
            if (stagger) clearTimeout(stagger);
            if (settled) {
              conn.socket.destroy();
              return;
            }
            settled = true;
            // Paths still handshaking lost the race: try them last until they answer.
            for (const slow of pending) h.reportSuspect(slow);
            resolve(conn);
          },
          (err: unknown) => {
            running--;
            pending.delete(p.name);
            if (stagger) clearTimeout(stagger);
            firstErr ??= err;
            if (isPathFailure(err)) {
              h.reportFailure(p.name, err);
              if (!settled && next < candidates.length) {
                log.info(`connect via path ${p.name} (${p.source}) failed: ${(err as Error).message}; trying the next path`);
              }
              start();
            } else {
              // the proxy itself answered (e.g. refused): another path will not change that
              stop = true;
              firstErr = err;
            }
            if (!settled && running === 0 && (stop || next >= candidates.length)) {
              settled = true;
              reject(firstErr);
            }
          },
        );
      };
      // A slow live path races the next live one, but a path known to be down is only tried
      // once every live attempt has failed: a dangling attempt on it keeps resending SYNs, and
      // once an MP_CAPABLE SYN and two retries are lost the kernel retries as plain TCP, so an
      // ISP that comes back gets a plain-TCP connection (and, with net.mptcp.blackhole_timeout
      // set, MPTCP switched off for the whole host).
      const startLive = (): void => {
        if (next < candidates.length && !candidates[next].up) return;
        start();
      };
      start();
    });
  }

  /** Open connections (pooled or in use) by the path of their initial subflow, and those in use. */
  const openOn = new PathCounts();
  const liveOn = new PathCounts();

  const poolSize = section.poolSize ?? 0;
  const pool =
    poolSize === 'auto' || poolSize > 0
      ? new WarmPool({
          size: poolSize,
          idleTimeoutMs: (section.poolIdleTimeout ?? 0) * 1000,
          // Silent until a stream takes it (docs/optimistic-connect.md, "Warm pool": why not pre-greeted).
          open: () => fresh(false),
          log,
        })
      : undefined;

  // Passive signal from live connections: a subflow that keeps timing out on a path.
  const live = new Set<net.Socket>();
  const watch = (s: net.Socket): void => {
    if (!health || section.mptcp === 'off') return;
    if (live.size >= MAX_WATCHED) live.delete(live.values().next().value as net.Socket);
    live.add(s);
    watchedSince.set(s, Date.now());
    s.once('close', () => live.delete(s));
  };
  const scan = (): void => {
    for (const s of live) {
      if (s.destroyed) {
        live.delete(s);
        continue;
      }
      let list: mptcpNative.SubflowInfo[];
      try {
        list = mptcpNative.subflows(s);
      } catch {
        continue;
      }
      const now = Date.now();
      let seen = received.get(s);
      if (!seen) received.set(s, (seen = new Map()));
      const est = list.filter((sf) => sf.state === 1);
      for (const sf of est) {
        const key = `${sf.local.address}:${sf.local.port}`;
        const prev = seen.get(key);
        const bytes = sf.bytesReceived ?? 0;
        if (!prev || bytes > prev.bytes) seen.set(key, { bytes, at: now, carried: prev !== undefined && bytes > prev.bytes });
      }
      for (const sf of est) {
        const why = stallOf(sf, est, seen, now, now - (watchedSince.get(s) ?? 0));
        if (!why) continue;
        const p = health?.bySource(sf.local.address);
        if (p) health?.reportStall(p.name, `live subflow ${sf.local.address} -> ${sf.remote.address} ${why}`);
      }
    }
  };
  /** When each live connection started being watched (its stream's start). */
  const watchedSince = new WeakMap<net.Socket, number>();
  /** Per live connection and subflow: bytes received at the last scan, when they last grew. */
  const received = new WeakMap<net.Socket, Map<string, Progress>>();
  let watcher: NodeJS.Timeout | undefined;

  /** §5: a dead path's endpoint is withdrawn while another path is up, and put back when it answers. */
  const actOnPathManager = (path: PathView): void => {
    if (!kernel || !health || opts.pathManager === false) return;
    const stillDown = (): boolean => health.get(path.name)?.source === path.source && health.get(path.name)?.up === false;
    const otherUp = (): boolean => health.view().some((p) => p.name !== path.name && p.state === 'up');
    const act = path.up
      ? path.state === 'up'
        ? kernel.restore(path.source)
        : Promise.resolve(undefined)
      : otherUp()
        ? health.confirmDead(path.name).then((dead) => (dead && otherUp() ? kernel.withdraw(path.source, stillDown) : undefined))
        : Promise.resolve(undefined);
    void act.then(
      (did) => did && log.info(`path ${path.name}: ${did}`),
      (err: unknown) => log.error(`path ${path.name}: the path manager: ${(err as Error).message}`),
    );
  };

  /** A pooled connection's path; one opened before `paths = auto` had found them, by its source address. */
  const pathOf = (c: PooledConn): string | undefined => c.path ?? health?.bySource(c.socket.localAddress ?? '')?.name;

  /** Another live connection's subflow from `source` received a segment within `ms`: the path answers. */
  const pathAnswers = (source: string, ms: number, except: net.Socket): boolean => {
    for (const s of live) {
      if (s === except || s.destroyed) continue;
      let list: mptcpNative.SubflowInfo[];
      try {
        list = mptcpNative.subflows(s);
      } catch {
        continue;
      }
      const heard = (sf: mptcpNative.SubflowInfo): number => Math.min(sf.lastAckRecvMs ?? Infinity, sf.lastDataRecvMs ?? Infinity);
      if (list.some((sf) => sf.state === 1 && sf.local.address === source && heard(sf) < ms)) return true;
    }
    return false;
  };

  /**
   * The guard behind Dialed.sent() (issue 10: a pooled connection taken right after its ISP
   * died lost the stream). Its deadline is the path's race delay (what a fresh connect on it
   * may take) plus one RTT (the flight's ACK, or the server's first reply). Acknowledged or
   * answered bytes mean the server has them: the connection is left alone (MPTCP reinjects
   * within it once it has a second subflow).
   */
  const firstFlightGuard = (d: Dialed): (() => void) | undefined => {
    const h = health;
    const p = d.path === undefined ? undefined : h?.get(d.path);
    if (!h || !p || h.size < 2) return undefined;
    const before = progressOf(d.socket);
    if (before === undefined) return undefined;
    return () => {
      const ms = h.staggerDelay(p) + Math.ceil(p.rttMs ?? 0);
      let timer: NodeJS.Timeout | undefined;
      const check = (): void => {
        if (d.socket.destroyed || typeof d.socket.resetAndDestroy !== 'function') return;
        const now = progressOf(d.socket);
        if (now === undefined || now > before) return;
        // the path still answers other connections: slow (a queue), not dead; look again later
        if (pathAnswers(p.source, ms, d.socket)) {
          timer = setTimeout(check, ms);
          timer.unref();
          return;
        }
        d.unanswered = `nothing of its first bytes was acknowledged within ${ms} ms on path ${p.name}`;
        h.reportSuspect(p.name);
        h.reportStall(p.name, `a pooled connection's first bytes were not acknowledged within ${ms} ms`);
        // RST, not FIN: a FIN would leave the flight queued and retransmitted on the path.
        d.socket.resetAndDestroy();
      };
      timer = setTimeout(check, ms);
      timer.unref();
      d.socket.once('close', () => clearTimeout(timer));
    };
  };

  /**
   * Closes the pooled connections on a trusted path no longer worth taking (a faster path is
   * back: they were opened while it was down) so that the pool refills on the fast path;
   * returns the paths worth taking (path-spread.ts, `worthTaking`). A connection the race put
   * on the slow path because the fast one was slow to answer is kept: the loser is suspect,
   * so not trusted, until its own attempt ends; so refills churn at most once per lost race.
   */
  function dropSuperseded(h: PathHealth, paths = h.candidates()): Set<string> {
    const worth = worthTaking(paths, (n) => h.trusted(n));
    pool?.dropWhere((c) => {
      const name = pathOf(c);
      return name !== undefined && !worth.has(name) && h.trusted(name);
    }, () => `on a path slower than a fresh connect on the fastest (${[...worth].join(', ')})`);
    return worth;
  }

  if (health) {
    health.on('change', (ev: { path: PathView }) => {
      if (!ev.path.up) pool?.dropPath(ev.path.name, ev.path.source);
      else dropSuperseded(health);
      actOnPathManager(ev.path);
    });
    health.start();
    if (section.mptcp !== 'off') {
      watcher = setInterval(() => {
        scan();
        // a faster path's RTT came back down: move the pool onto it
        if (pool) dropSuperseded(health);
      }, WATCH_MS);
      watcher.unref();
    }
  }
  pool?.start();

  return {
    health,
    kernel,
    async dial(o: DialOptions = {}): Promise<Dialed> {
      if (pool && o.pooled !== false) {
        // Only on a path worth it: trusted (not one that just lost a race, missed a probe or
        // left a flight unanswered: a fresh connect races the paths instead, as a silent pooled
        // connection cannot change path) and fast enough to beat a fresh connect on the
        // fastest path (path-spread.ts). Of those, one on the equal-cost path with the fewest
        // connections in use.
        const paths = health?.candidates();
        const worth = health ? dropSuperseded(health, paths) : undefined;
        const peers = health && paths ? equalCostPaths(paths, (n) => health.trusted(n)).map((p) => p.name) : [];
        const hit = pool.take(
          (c) => {
            const name = pathOf(c);
            return !worth || name === undefined || worth.has(name);
          },
          (c) => {
            const name = pathOf(c);
            return name !== undefined && peers.includes(name) ? liveOn.get(name) : Infinity;
          },
        );
        if (poolChannel.hasSubscribers) poolChannel.publish({ instance: instanceName, hit: hit !== undefined, path: hit && pathOf(hit) });
        if (hit) {
          const raw = hit.raw ?? hit.socket;
          watch(hit.socket);
          // it idled: its first bytes go out as one small segment per subflow (after-idle.ts)
          const d: Dialed = { socket: hit.socket, path: pathOf(hit), pooled: true, writeFirst: (data) => writeAfterIdle(hit.socket, raw, data) };
          if (d.path !== undefined) liveOn.add(d.path, raw);
          const guard = firstFlightGuard(d);
          if (guard) d.sent = guard;
          return d;
        }
      }
      const conn = await fresh(o.fastOpen === true);
      watch(conn.socket);
      if (conn.path !== undefined) liveOn.add(conn.path, conn.raw ?? conn.socket);
      return conn;
    },
    poolStats(): PoolStats {
      if (pool && health) return { ...pool.stats(), idleByPath: Object.fromEntries(pool.idleBy(pathOf)) };
      return (
        pool?.stats() ?? {
          size: 0,
          idle: 0,
          pending: 0,
          hits: 0,
          misses: 0,
          refills: 0,
          opened: 0,
          expired: 0,
          dropped: 0,
          failures: 0,
          idleTimeoutMs: 0,
          auto: false,
        }
      );
    },
    paths: () => health?.view() ?? [],
    poolReady: () => pool?.whenFull() ?? Promise.resolve(),
    probePaths: () => health?.probeAll() ?? Promise.resolve(),
    close(): void {
      if (watcher) clearInterval(watcher);
      live.clear();
      health?.stop();
      kernel?.shutdown();
      pool?.close();
    },
  };
}
