/**
 * A health view of each WAN path (issue 6, "new connections while an ISP is down").
 *
 * Active signal: every `path_probe_interval` ms a plain-TCP connect to the proxy from the
 * path's source address (plus its device/mark), with `path_probe_timeout`. Plain TCP on
 * purpose: an MPTCP probe would add subflows over the other paths and prove nothing about
 * this one. Passive signals: the outcome and duration of every real upstream connect on the
 * path, subflows joining new pooled connections (proof of life), and stalled subflows of live
 * connections (which trigger immediate probes; see dialer.ts).
 *
 * A connect that fails in a way that blames the path (timeout, unreachable, no address)
 * marks it down at once; a probe needs two misses in a row (one lost SYN on a lossy link is
 * not an outage). One probe success brings a path back. A probe late by a few RTTs makes its
 * path suspect (ranked last) before its timeout decides. To a SOCKS5 proxy a probe says what it
 * is (PATH_PROBE_GREETING), so the server does not log it as a blocked connection; backup
 * paths are probed every backupProbeIntervalMs while an active path is up.
 *
 * The path set is fixed (`paths = "..."`) or comes from the kernel (`paths = auto`,
 * kernel-paths.ts) through setPaths(). docs: packages/redsocks-ts/docs/wan-paths.md.
 */
import { EventEmitter } from 'node:events';
import diagnosticsChannel from 'node:diagnostics_channel';
import type * as net from 'node:net';
import type { WanPath } from '../config/types';

export type PathStateName = 'unknown' | 'up' | 'down';

export interface PathView {
  name: string;
  source: string;
  device?: string;
  mark?: number;
  backup: boolean;
  /** False only once the path has been seen failing (unknown counts as up). */
  up: boolean;
  state: PathStateName;
  /** Smoothed connect RTT, null before the first measurement. */
  rttMs: number | null;
  /** Epoch ms of the last state change (creation time at first). */
  lastChange: number;
  lastError?: string;
  /** `paths = auto`: why the kernel's view makes this path usable or not. */
  why?: string;
}

/** Published on every state change: `{ path: PathView, previous: PathStateName, reason }`. */
export const pathChannel = diagnosticsChannel.channel('redsocks-ts:path');

export interface PathEvent {
  path: PathView;
  previous: PathStateName;
  reason: string;
}

export interface ConnectLike {
  (opts: {
    host: string;
    port: number;
    localAddress?: string;
    bindDevice?: string;
    mark?: number;
    timeout?: number;
    mptcp?: 'on' | 'off' | 'auto';
    fastOpen?: boolean;
    noDelay?: boolean;
  }): Promise<net.Socket>;
}

export interface HealthLog {
  info(msg: string): void;
  error(msg: string): void;
}

/** Errors that say "this path does not get us to the proxy" rather than "the proxy said no". */
const PATH_ERRORS = new Set([
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
  'ENODEV',
  'ECONNABORTED',
]);

export function isPathFailure(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code !== undefined && PATH_ERRORS.has(code);
}

const MIN_ATTEMPT_TIMEOUT_MS = 500;
/** Bounds of the stagger delay of the connect race (see staggerDelay). */
const MIN_STAGGER_MS = 50;
/** Linux's initial retransmission timeout (TCP_TIMEOUT_INIT): a SYN unanswered this long is sent again. */
const SYN_RTO_MS = 1000;
const MIN_STAGGER_MARGIN_MS = 10;
const UNKNOWN_RTT_STAGGER_MS = 250;
const PROBE_MISSES_FOR_DOWN = 2;
/** A probe not answered within max(2 x srtt, srtt + 4 x rttvar, this) makes its path suspect. */
const MIN_PROBE_SUSPECT_MS = 100;
/** Floor of a confirmation probe's timeout (a stall report probes with max(4 x srtt, this)). */
const CONFIRM_MIN_MS = 400;
/** After a stall report was disproved (the path answered), ignore further ones this long. */
const STALL_QUIET_MS = 5000;

/** A path as `paths = auto` derives it: usable = what the kernel says (link, address, route). */
export interface PathSpec extends WanPath {
  usable?: boolean;
  why?: string;
}

interface PathState extends PathView {
  /** Mean deviation of the connect RTT (RFC 6298 style), null before the first sample. */
  rttVarMs: number | null;
  misses: number;
  /** Lost a connect race while still handshaking: ranked after healthy paths until it answers. */
  suspect: boolean;
  /** A stalled live subflow asked for probes now. */
  confirming: boolean;
  /** What the kernel says (auto paths): false = not probed, down with `why`. */
  usable: boolean;
  why?: string;
  /** Epoch ms of the last probe sent (backup paths are probed less often). */
  lastProbe: number;
  /** Epoch ms when a stall report was last disproved by a probe. */
  confirmedAt: number;
}

function toView(s: PathState): PathView {
  const v: PathView = {
    name: s.name,
    source: s.source,
    backup: s.backup,
    up: s.up,
    state: s.state,
    rttMs: s.rttMs,
    lastChange: s.lastChange,
  };
  if (s.device !== undefined) v.device = s.device;
  if (s.mark !== undefined) v.mark = s.mark;
  if (s.lastError !== undefined) v.lastError = s.lastError;
  if (s.why !== undefined) v.why = s.why;
  return v;
}

function newState(p: PathSpec, now: number): PathState {
  return {
    name: p.name,
    source: p.source,
    device: p.device,
    mark: p.mark,
    backup: p.backup,
    up: true,
    state: 'unknown',
    rttMs: null,
    rttVarMs: null,
    lastChange: now,
    misses: 0,
    suspect: false,
    confirming: false,
    usable: p.usable !== false,
    why: p.why,
    lastProbe: 0,
    confirmedAt: 0,
  };
}

export class PathHealth extends EventEmitter {
  private states: PathState[];
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private stopped = false;

  constructor(
    paths: readonly WanPath[],
    private readonly target: { host: string; port: number },
    private readonly opts: {
      probeIntervalMs: number;
      probeTimeoutMs: number;
      connect: ConnectLike;
      log?: HealthLog;
      /** Written on each probe connection, then EOF (a SOCKS5 proxy: PATH_PROBE_GREETING). */
      probeGreeting?: Buffer;
      /** Backup paths are probed this often while an active path is up (ms). */
      backupProbeIntervalMs?: number;
    },
  ) {
    super();
    const now = Date.now();
    this.states = paths.map((p) => newState(p, now));
  }

  /**
   * A new path set (`paths = auto` after a kernel change): paths that stay (same name and
   * source) keep their state; new ones start unknown and are probed at once; a path the
   * kernel calls unusable is down with the kernel's reason and is not probed.
   */
  setPaths(paths: readonly PathSpec[]): void {
    const now = Date.now();
    const old = this.states;
    this.states = paths.map((p) => {
      const kept = old.find((s) => s.name === p.name && s.source === p.source);
      const s = kept ?? newState(p, now);
      s.device = p.device;
      s.mark = p.mark;
      s.backup = p.backup;
      s.why = p.why;
      const usable = p.usable !== false;
      if (!usable) {
        s.usable = false;
        s.lastError = p.why;
        this.transition(s, 'down', p.why ?? 'unusable');
      } else if (!s.usable) {
        // The kernel has it back: unknown until a probe answers.
        s.usable = true;
        s.misses = 0;
        this.transition(s, 'unknown', p.why ?? 'usable again');
      }
      return s;
    });
    for (const s of old) {
      if (!this.states.includes(s)) this.opts.log?.info(`path ${s.name} (${s.source}) is gone`);
    }
    if (!this.stopped && this.states.length > 0) {
      if (!this.timer) this.start();
      else for (const s of this.states) if (s.usable && s.state === 'unknown' && s.lastProbe === 0) void this.probe(s);
    }
    this.emit('paths', this.view());
  }

  get size(): number {
    return this.states.length;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    void this.probeAll();
    if (this.opts.probeIntervalMs > 0) {
      this.timer = setInterval(() => void this.probeAll(false), this.opts.probeIntervalMs);
      this.timer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  view(): PathView[] {
    return this.states.map(toView);
  }

  get(name: string): PathView | undefined {
    const s = this.states.find((p) => p.name === name);
    return s ? toView(s) : undefined;
  }

  /** Paths in dialing order: live non-backup, live backup, then the rest as a last resort. */
  candidates(): PathView[] {
    const rank = (p: PathState): number => (!p.up ? 4 : p.suspect ? 2 : 0) + (p.backup ? 1 : 0);
    return this.states
      .map((p, i) => ({ p, i }))
      .sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i)
      .map(({ p }) => toView(p));
  }

  /** Number of paths believed usable (what a fully joined MPTCP connection should have). */
  liveCount(): number {
    return this.states.filter((p) => p.up).length;
  }

  /** Per-attempt connect timeout: max(3 x RTT, 500 ms); none for the last candidate. */
  attemptTimeout(path: PathView, last: boolean): number | undefined {
    if (last) return undefined;
    const rtt = path.rttMs;
    if (rtt === null) return Math.max(MIN_ATTEMPT_TIMEOUT_MS, this.opts.probeTimeoutMs);
    return Math.max(MIN_ATTEMPT_TIMEOUT_MS, Math.ceil(3 * rtt));
  }

  /**
   * How long the dialer waits on this path before racing the next one: the connect time this
   * path should not exceed, srtt + 4 x rttvar (at least srtt + 10 ms), within [50 ms, 2 x srtt].
   * A tight bound matters: right after an ISP dies, before any probe has noticed, the first
   * new connection pays exactly this delay on top of its normal setup.
   */
  staggerDelay(path: PathView): number {
    const s = this.states.find((p) => p.name === path.name);
    const srtt = s?.rttMs ?? path.rttMs;
    if (srtt === null) return UNKNOWN_RTT_STAGGER_MS;
    const v = s?.rttVarMs ?? srtt / 4;
    const bound = srtt + Math.max(4 * v, MIN_STAGGER_MARGIN_MS);
    return Math.ceil(Math.max(MIN_STAGGER_MS, Math.min(bound, 2 * srtt)));
  }

  reportSuccess(name: string, rttMs: number | undefined, reason = 'connect ok'): void {
    const s = this.states.find((p) => p.name === name);
    if (!s || !s.usable) return;
    s.misses = 0;
    s.suspect = false;
    // Karn's rule: a connect that outlasted the first SYN retransmission (Linux's initial RTO,
    // 1 s) timed two SYNs; its time says nothing about the path's RTT, only that it answers
    // (seen on an ISP coming back: a probe's connect of 1065 ms on a 30 ms path).
    if (rttMs !== undefined && !(rttMs >= SYN_RTO_MS && s.rttMs !== null)) {
      if (s.rttMs === null || s.rttVarMs === null) {
        s.rttMs = rttMs;
        s.rttVarMs = rttMs / 4;
      } else {
        s.rttVarMs = Math.round((0.75 * s.rttVarMs + 0.25 * Math.abs(s.rttMs - rttMs)) * 10) / 10;
        // A faster connect means a queue has drained: follow it down quicker than up, so a
        // burst of load does not keep the stagger delay long for seconds after it ends.
        const w = rttMs < s.rttMs ? 0.5 : 0.25;
        s.rttMs = Math.round(((1 - w) * s.rttMs + w * rttMs) * 10) / 10;
      }
    }
    this.transition(s, 'up', reason);
  }

  /** A failed real connect: the path is down at once when the error blames the path. */
  reportFailure(name: string, err: unknown, fromProbe = false): void {
    const s = this.states.find((p) => p.name === name);
    if (!s) return;
    const reason = (err as Error)?.message ?? String(err);
    s.lastError = reason;
    if (!isPathFailure(err)) return;
    // A first probe miss is not "down" yet, but the path stays ranked after the healthy ones.
    s.suspect = true;
    s.misses++;
    if (!fromProbe || s.misses >= PROBE_MISSES_FOR_DOWN) this.transition(s, 'down', reason);
  }

  /** A connect on this path was overtaken by another path's: deprioritise until it answers. */
  reportSuspect(name: string): void {
    const s = this.states.find((p) => p.name === name);
    if (s && s.up) s.suspect = true;
  }

  /** Up and not suspect (no lost race, late probe or stall since it last answered). */
  trusted(name: string): boolean {
    const s = this.states.find((p) => p.name === name);
    return s !== undefined && s.up && !s.suspect;
  }

  /** The path whose source address is `localAddress`, if any. */
  bySource(localAddress: string): PathView | undefined {
    const s = this.states.find((p) => p.source === localAddress);
    return s ? toView(s) : undefined;
  }

  /**
   * Passive signal: a live connection's subflow on this path keeps timing out. Rank the path
   * last for new connections and probe it now (twice if needed) instead of at the next tick;
   * the probes decide whether it is down.
   */
  reportStall(name: string, reason: string): void {
    const s = this.states.find((p) => p.name === name);
    if (!s || !s.up || s.confirming || this.stopped || Date.now() - s.confirmedAt < STALL_QUIET_MS) return;
    s.suspect = true;
    s.confirming = true;
    this.opts.log?.info(`path ${s.name} (${s.source}): ${reason}; probing it now`);
    // Confirmation probes wait a few RTTs, not the full probe timeout: with a transfer stalled
    // on the path, every second spent here is a second of stall (issue 10 §3, §5).
    const timeout = this.confirmTimeout(s);
    void (async () => {
      try {
        for (let i = 0; i < PROBE_MISSES_FOR_DOWN && !this.stopped; i++) {
          if (await this.probe(s, timeout)) {
            s.confirmedAt = Date.now();
            break;
          }
        }
      } finally {
        s.confirming = false;
      }
    })();
  }

  /**
   * Whether a path that is down is dead for sure, before anything drastic is done about it
   * (withdrawing its endpoint tears down its subflows on every connection): the kernel calls
   * it unusable, or two probes in a row missed. A path marked down by one failed connect (a
   * slow handshake on a loaded link can do that) gets its missing probes now, with the
   * confirmation timeout.
   */
  async confirmDead(name: string): Promise<boolean> {
    const s = this.states.find((p) => p.name === name);
    if (!s || s.up) return false;
    if (!s.usable) return true;
    while (s.misses < PROBE_MISSES_FOR_DOWN && !s.up && !this.stopped) {
      if (await this.probe(s, this.confirmTimeout(s))) return false;
    }
    return !s.up && this.states.includes(s);
  }

  private confirmTimeout(s: PathState): number {
    const rtt = s.rttMs ?? this.opts.probeTimeoutMs;
    return Math.min(this.opts.probeTimeoutMs, Math.max(CONFIRM_MIN_MS, Math.ceil(4 * rtt)));
  }

  /** Passive signal: a live MPTCP connection has an established subflow from this source. */
  reportSubflowFrom(localAddress: string): void {
    const s = this.states.find((p) => p.source === localAddress);
    if (s && s.state !== 'up') this.reportSuccess(s.name, undefined, 'live subflow');
  }

  /**
   * One probe round: every usable path, except a backup path probed less than
   * backupProbeIntervalMs ago while an active path is up (`force`: all of them).
   */
  async probeAll(force = true): Promise<void> {
    if (this.probing || this.stopped) return;
    this.probing = true;
    try {
      const now = Date.now();
      const activeUp = this.states.some((p) => !p.backup && p.up && p.usable);
      const every = this.opts.backupProbeIntervalMs ?? 0;
      const due = this.states.filter((p) => p.usable && (force || !p.backup || !activeUp || now - p.lastProbe >= every));
      await Promise.all(due.map((s) => this.probe(s)));
    } finally {
      this.probing = false;
    }
  }

  private async probe(s: PathState, timeoutMs = this.opts.probeTimeoutMs): Promise<boolean> {
    const t0 = process.hrtime.bigint();
    s.lastProbe = Date.now();
    // No answer within a few RTTs: rank the path after the others now (the first connection
    // after a cut must not wait a stagger delay on it); the probe's timeout decides "down".
    const late =
      s.rttMs === null
        ? undefined
        : setTimeout(
            () => {
              if (s.up && !s.suspect) s.suspect = true;
            },
            Math.max(2 * s.rttMs, s.rttMs + 4 * (s.rttVarMs ?? 0), MIN_PROBE_SUSPECT_MS),
          );
    late?.unref();
    try {
      const sock = await this.opts.connect({
        host: this.target.host,
        port: this.target.port,
        localAddress: s.source,
        bindDevice: s.device,
        mark: s.mark,
        timeout: timeoutMs,
        mptcp: 'off',
      });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (late) clearTimeout(late);
      sock.on('error', () => undefined);
      if (this.opts.probeGreeting) {
        // Say "path probe" so the server does not log a blocked connection; it answers and closes.
        const bye = setTimeout(() => sock.destroy(), this.opts.probeTimeoutMs);
        bye.unref();
        sock.once('close', () => clearTimeout(bye));
        sock.resume();
        sock.end(this.opts.probeGreeting);
      } else sock.destroy();
      if (!this.stopped) this.reportSuccess(s.name, Math.round(ms * 10) / 10, 'probe ok');
      return true;
    } catch (err) {
      if (late) clearTimeout(late);
      if (!this.stopped && s.usable) this.reportFailure(s.name, err, true);
      return false;
    }
  }

  private transition(s: PathState, next: PathStateName, reason: string): void {
    if (s.state === next) return;
    const previous = s.state;
    s.state = next;
    s.up = next !== 'down';
    s.lastChange = Date.now();
    const view = toView(s);
    const ev: PathEvent = { path: view, previous, reason };
    if (previous !== 'unknown' || next === 'down') {
      const rtt = view.rttMs === null ? '' : `, rtt ${view.rttMs} ms`;
      const msg = `path ${s.name} (${s.source}) is ${next}${rtt}: ${reason}`;
      if (next === 'down') this.opts.log?.error(msg);
      else this.opts.log?.info(msg);
    }
    if (pathChannel.hasSubscribers) pathChannel.publish(ev);
    this.emit('change', ev);
  }
}
