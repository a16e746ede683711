/**
 * All `redsocks { }` instances of one config, the global connection cap and accept
 * back-off (redsocks disables every listener at once), SIGHUP-style atomic reload.
 */
import { kernelNotes } from '../dial/kernel-notes';
import { readSysctl } from '../gateway/system';
import type { RedsocksConfig } from '../config/types';
import { effectiveConnMax } from '../config/conn-max';
import type { RedsocksLog } from '../log/redsocks-log';
import { getRedirector } from '../redirector';
import { Upstreams } from '../upstream/registry';
import { secUsec } from './client';
import { listenKey, Instance, type InstanceHost } from './instance';
import { keepaliveLimitation } from '../net/keepalive';
import { SpliceBudget, nofileSoftLimit, splicePolicyFromEnv, type SplicePolicy } from '@mptcp-proxy/common';
import { startServices, reloadServices, type Service, type ServiceKind } from './services';
import { RedsocksMetrics } from './metrics';

export interface StartOptions {
  log: RedsocksLog;
  /** RLIMIT_NOFILE used for the default conn_max (default: the process' soft limit). */
  nofile?: number;
  /** Where and when relays splice (default: MPTCP_SPLICE_ON/_AFTER, as the CLI reads them). */
  splicePolicy?: SplicePolicy;
  /** One of several -N workers: listeners are opened with SO_REUSEPORT. */
  reusePort?: boolean;
  /**
   * Run the UDP services (redudp {}, dns {}, dnstc {}); default true. Under -N only the first
   * worker runs them (their sockets are not shared between workers).
   */
  services?: boolean;
}

export interface ClientInfo {
  instance: string;
  client: string;
  dest: string;
}

export interface RedsocksHandle {
  /** Bound port of each instance, in config order (local_port = 0 gets an ephemeral one). */
  ports(): number[];
  /** Bound ports of the `redudp`, `dnstc` and `dns` sections, in config order. */
  servicePorts(kind: ServiceKind): number[];
  /** The running `redudp`, `dnstc` and `dns` sections. */
  services(): readonly Service[];
  clients(): ClientInfo[];
  /** Logs the SIGUSR1 dump of every instance. */
  dump(): void;
  /** Applies a new config atomically; on error the old one stays and the error is thrown. */
  reload(config: RedsocksConfig): Promise<void>;
  close(): Promise<void>;
  readonly connMax: number;
  /** The metrics endpoint's address while metrics are on (`metrics_port`). */
  metricsAddress(): { host: string; port: number } | undefined;
}

const PRESSURE_ERRNOS = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

/** Init-time checks redsocks runs after parsing: each section's protocol, keepalive, unbuilt sections. */
export function initWarnings(config: RedsocksConfig, log: RedsocksLog, upstreams: Upstreams): void {
  for (const r of config.redsocks) {
    for (const w of upstreams.protocolFor(r.type).warnings?.(r) ?? []) log.warning(w);
  }
  const ka = keepaliveLimitation(config.base);
  if (ka) log.warning(ka);
  for (const note of kernelNotes(config, readSysctl)) log.notice(note);
}

class Daemon implements InstanceHost {
  instances: Instance[] = [];
  services: Service[] = [];
  count = 0;
  connMax = 0;
  private backoffMs = 0;
  private backoffTimer: NodeJS.Timeout | undefined;
  private limitLogged = false;
  private closing = false;
  private lastLoopNotice = -Infinity;
  /** The fds spliced relays may hold, and where and when they splice. */
  readonly spliceBudget: SpliceBudget;
  readonly upstreams = new Upstreams();
  readonly reusePort: boolean;

  private readonly runServices: boolean;

  constructor(public config: RedsocksConfig, readonly log: RedsocksLog, private readonly nofile: number, opts: Pick<StartOptions, 'splicePolicy' | 'reusePort' | 'services'> = {}) {
    this.runServices = opts.services ?? true;
    this.connMax = effectiveConnMax(config, nofile);
    this.spliceBudget = new SpliceBudget(undefined, opts.splicePolicy ?? splicePolicyFromEnv());
    this.reusePort = opts.reusePort ?? false;
  }

  async start(): Promise<void> {
    const redirector = getRedirector(this.config.base.redirector);
    // subscribed before the first accept, so every connection's events are counted
    await this.startMetrics();
    const built: Instance[] = [];
    try {
      for (const cfg of this.config.redsocks) {
        const inst = new Instance(this, cfg, this.config.base, redirector);
        await inst.listen();
        built.push(inst);
      }
      if (this.runServices) this.services = await startServices(this.config, this.log);
    } catch (err) {
      for (const inst of built) await inst.close();
      await this.metrics?.close();
      throw err;
    }
    this.instances = built;
  }

  metrics: RedsocksMetrics | undefined;

  /** The metrics endpoint (docs/metrics.md), only with `metrics_port`; read at start only. */
  private async startMetrics(): Promise<void> {
    const { metricsPort, metricsIp } = this.config.base;
    if (metricsPort === undefined) return;
    const m = new RedsocksMetrics({
      instances: () =>
        this.instances.map((inst) => ({
          key: inst.key,
          paths: () => inst.dialer.paths(),
          pathBySource: (a: string) => inst.dialer.health?.bySource(a)?.name,
          poolStats: () => inst.dialer.poolStats(),
          clients: () => [...inst.clients].map((c) => ({ key: `${c.clientAddr.address}:${c.clientAddr.port}`, bytes: () => c.bytes(), upstream: c.upstream })),
        })),
    });
    try {
      const srv = await m.listen(metricsIp, metricsPort, (err) => this.log.error(`metrics: ${err.message}`));
      this.log.notice(`metrics at http://${srv.host.includes(':') ? `[${srv.host}]` : srv.host}:${srv.port}/metrics`);
    } catch (err) {
      await m.close();
      throw new Error(`metrics endpoint ${metricsIp}:${metricsPort}: ${(err as Error).message}`);
    }
    this.metrics = m;
  }

  loopNoticeDue(now: number): boolean {
    if (now - this.lastLoopNotice < 3600_000) return false;
    this.lastLoopNotice = now;
    return true;
  }

  /** As redsocks_conn_list_add(): reaching the limit logs once and applies pressure at once. */
  admit(_inst: Instance): boolean {
    if (this.closing) return false;
    this.count++;
    if (this.count >= this.connMax) this.pressure();
    else if (!this.backoffTimer) this.backoffMs = 0;
    return true;
  }

  released(_inst: Instance): void {
    this.count--;
    if (this.count < this.connMax) this.limitLogged = false;
  }

  acceptError(err: NodeJS.ErrnoException): void {
    this.log.warning(`accept: ${err.message}`);
    if (err.code && PRESSURE_ERRNOS.has(err.code)) this.pressure();
  }

  /** redsocks' conn_pressure(): drop idle clients if allowed, else back off accepting. */
  private pressure(): void {
    const idle = this.config.base.connpresIdleTimeout;
    if (idle > 0) {
      const now = Date.now();
      let dropped = 0;
      for (const inst of this.instances) dropped += inst.dropIdle(idle, now);
      if (dropped > 0) {
        this.log.notice(`dropped connections idle for ${idle}+ seconds`);
        if (this.count < this.connMax) return;
      }
    }
    if (this.count >= this.connMax && !this.limitLogged) {
      this.limitLogged = true;
      this.log.warning(`reached redsocks_conn_max limit, ${this.count} connections`);
    }
    this.backoff();
  }

  private backoff(): void {
    if (this.backoffTimer || this.closing) return;
    this.backoffMs = Math.min(this.backoffMs * 2 + 1, this.config.base.maxAcceptBackoff);
    const delay = 1 + Math.floor(Math.random() * this.backoffMs);
    this.log.warning(`accept: backing off for ${secUsec(delay)}s`);
    for (const inst of this.instances) inst.pause();
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      if (this.closing) return;
      if (this.count >= this.connMax) {
        this.pressure();
        // backed off again; else idle clients were dropped and accepting resumes below
        // (redsocks 0.5 leaves its listeners disabled here until a restart)
        if (this.backoffTimer) return;
      }
      void Promise.all(this.instances.map((inst) => inst.resume())).catch(() => this.backoff());
    }, delay);
  }

  clients(): ClientInfo[] {
    const out: ClientInfo[] = [];
    for (const inst of this.instances) {
      for (const c of inst.clients) {
        out.push({
          instance: inst.key,
          client: `${c.clientAddr.address}:${c.clientAddr.port}`,
          dest: `${c.dest.address}:${c.dest.port}`,
        });
      }
    }
    return out;
  }

  dump(): void {
    const now = Date.now();
    for (const inst of this.instances) inst.dump(now);
  }

  /**
   * Binds every new listener first; only if all succeed are removed instances closed and
   * kept ones updated. Running clients finish on the config they started with.
   */
  async reload(config: RedsocksConfig): Promise<void> {
    const redirector = getRedirector(config.base.redirector);
    const oldBase = this.config.base;
    for (const r of config.redsocks) this.upstreams.protocolFor(r.type);
    const old = new Map(this.instances.map((inst) => [inst.key, inst]));
    const fresh: Instance[] = [];
    const next: Instance[] = [];
    try {
      for (const cfg of config.redsocks) {
        const kept = old.get(listenKey(cfg));
        if (kept && kept.cfg.localPort !== 0) {
          old.delete(listenKey(cfg));
          next.push(kept);
          continue;
        }
        const inst = new Instance(this, cfg, config.base, redirector);
        await inst.listen();
        fresh.push(inst);
        next.push(inst);
      }
    } catch (err) {
      for (const inst of fresh) await inst.close();
      // kept instances were not touched yet
      throw err;
    }
    const svc = this.runServices ? await reloadServices(this.services, config, this.log) : { services: [], error: undefined };
    this.services = svc.services;
    if (svc.error !== undefined) {
      for (const inst of fresh) await inst.close();
      throw svc.error;
    }
    for (const inst of old.values()) await inst.closeListener();
    for (let i = 0; i < next.length; i++) {
      if (!fresh.includes(next[i])) next[i].update(config.redsocks[i], config.base);
    }
    this.config = config;
    this.instances = next;
    this.connMax = effectiveConnMax(config, this.nofile);
    this.log.setLevels({ debug: config.base.logDebug, info: config.base.logInfo });
    if (config.base.metricsPort !== oldBase.metricsPort || config.base.metricsIp !== oldBase.metricsIp) {
      this.log.notice('metrics_ip / metrics_port changed: they take effect at the next start, not at a reload');
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    for (const inst of this.instances) await inst.close();
    for (const svc of this.services) await svc.close();
    await this.metrics?.close();
  }
}

/** RLIMIT_NOFILE for the default conn_max: redsocks' formula wants a number; 1024 when unknown or unlimited. */
function nofileForConnMax(): number {
  const n = nofileSoftLimit();
  return n !== undefined && Number.isFinite(n) ? n : 1024;
}

/** Starts every `redsocks { }` instance of `config` and returns a handle (used by the CLI and tests). */
export async function startRedsocks(config: RedsocksConfig, opts: StartOptions): Promise<RedsocksHandle> {
  const { log } = opts;
  log.setLevels({ debug: config.base.logDebug, info: config.base.logInfo });
  const d = new Daemon(config, log, opts.nofile ?? nofileForConnMax(), opts);
  initWarnings(config, log, d.upstreams);
  await d.start();
  return {
    ports: () => d.instances.map((inst) => inst.port),
    servicePorts: (kind) => d.services.filter((x) => x.kind === kind).map((x) => x.port),
    services: () => d.services,
    clients: () => d.clients(),
    dump: () => d.dump(),
    reload: (c) => d.reload(c),
    close: () => d.close(),
    get connMax() {
      return d.connMax;
    },
    metricsAddress: () => d.metrics?.address,
  };
}
