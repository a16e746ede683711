/**
 * The Dante drop-in daemon core: listeners from mptcp-native for every
 * `internal:`, client rules at accept, one Session per client, a coarse
 * ticker for negotiate/connect deadlines (no per-connection timers), reload
 * with a new config generation, graceful drain and the SIGUSR1 client list.
 */
import type * as net from 'node:net';
import * as crypto from 'node:crypto';
import * as tls from 'node:tls';
import { listen } from 'mptcp-native';
import { ProxyError } from '@mptcp-proxy/common';
import type { DantedConfig, MatchContext, Rule, SystemLookups } from './config';
import { HostLookups, matchRule } from './config';
import { checkMethodsSupported, makeAuthenticator } from './auth/authenticator';
import type { AuthHelperClient } from './auth/helper-client';
import { loadPasswordFile } from './auth/password-file';
import { ServerMetrics } from './metrics';
import { connRefused, type ConnRefused } from './events';
import { acceptBlocked, acceptOpen, dotAddr } from './log/dante-format';
import { vis } from './log/vis';
import { nullLog, type DanteLog } from './log/dante-log';
import {
  DEFAULT_OC_LIMITS, SharedState, resolveExternals, resolveInternals, type OcLimits, type Runtime,
} from './runtime';
import { SessionTickets, admitSession, hasSessionLimits, sweepThrottles } from './session/session-policy';
import { Session, type SessionHooks } from './session/session';
import { tuneSocket } from './net/dialer';
import { checkSrcHost } from './net/srchost';

export interface StartOptions {
  /** Where log lines go; default: nowhere (the CLI builds one from `logoutput`). */
  log?: DanteLog;
  /** -n: no TCP keepalive on client and destination sockets. */
  noKeepalive?: boolean;
  /** SO_REUSEPORT on the listeners (-N workers). */
  reusePort?: boolean;
  ocLimits?: Partial<OcLimits>;
  /** Checks system passwords for us once privileges are dropped (the CLI forks it while root). */
  authHelper?: AuthHelperClient;
  /**
   * This process can no longer read system passwords itself (privileges dropped for good, or
   * about to be): system passwords go through `authHelper` or are refused.
   */
  unprivileged?: boolean;
  /** Ticker period for deadlines, ms (default 250). */
  tickMs?: number;
  /** Interface addresses for rules (default: this host's). */
  lookups?: SystemLookups;
  /** Added to extension.metrics' port: -N worker k serves on port + k - 1 (default 0). */
  metricsPortOffset?: number;
}

export interface ListenAddress {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

const TICK_MS = 250;

/**
 * What start-up would refuse in a parsed config, checked without starting (`-V`, `-D`, `-N`):
 * methods we cannot honour, and the password file (missing, unreadable or malformed).
 */
export function checkStartable(config: DantedConfig): void {
  checkMethodsSupported(config);
  if (config.socksMethod.includes('username') && config.ext.passwordFile !== undefined) loadPasswordFile(config.ext.passwordFile);
}

async function buildRuntime(config: DantedConfig, opts: StartOptions, shared: SharedState): Promise<Runtime> {
  checkMethodsSupported(config);
  const ext = config.ext;
  const ocNoAuthAllowed = ext.optimistic || config.socksRules.some((r) => r.optimistic === true);
  return {
    config,
    sys: opts.lookups ?? new HostLookups(),
    auth: makeAuthenticator(config, { queue: shared.verifyQueue, helper: opts.authHelper, unprivileged: opts.unprivileged }),
    log: opts.log ?? nullLog,
    policy: {
      socksMethods: config.socksMethod,
      ocMethod: ext.optimisticMethod,
      ocAuthMethod: ext.optimisticAuthMethod,
      ocNoAuthAllowed,
      ocAuthAllowed: config.socksRules.length === 0 || !config.socksRules.every((r) => r.optimistic === false),
    },
    externals: await resolveExternals(config),
    shared,
    oc: { ...DEFAULT_OC_LIMITS, ...opts.ocLimits },
    noKeepalive: opts.noKeepalive === true,
    negotiateMs: config.timeout.negotiate * 1000,
    poolNegotiateMs: ext.timeoutNegotiatePool * 1000,
    connectMs: config.timeout.connect * 1000,
    ioTcpMs: config.timeout.ioTcp * 1000,
    ioUdpMs: config.timeout.ioUdp * 1000,
    maxEarly: ext.optimisticMaxEarly,
    authFailures: ext.authFailures,
    needsGroups: config.socksRules.some((r) => r.group !== undefined),
  };
}

/** A connection closed at accept (events.ts). */
function refused(sock: net.Socket, stage: ConnRefused['stage']): void {
  if (!connRefused.hasSubscribers) return;
  connRefused.publish({ client: dotAddr(sock.remoteAddress, sock.remotePort), internal: dotAddr(sock.localAddress, sock.localPort), stage });
}

/** The secure-context options of the TLS listeners (docs/tls.md): TLS 1.3, client certificates with a client CA. */
function tlsServerOptions(config: DantedConfig): tls.SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean; ticketKeys: Buffer } {
  const t = config.ext.tls;
  const requireCert = t.clientCa !== undefined;
  return {
    cert: t.cert?.pem, key: t.key?.pem, ca: t.clientCa?.pem, minVersion: 'TLSv1.3',
    requestCert: requireCert, rejectUnauthorized: requireCert,
    // new session-ticket keys with every context: a ticket issued under the old certificate or
    // client CA never resumes a session under the new one (resumption skips both checks)
    ticketKeys: crypto.randomBytes(48),
  };
}

/** What a reload compares to decide whether the TLS context changes. */
function tlsMaterial(config: DantedConfig): string {
  const t = config.ext.tls;
  return JSON.stringify([t.cert?.pem, t.key?.pem, t.clientCa?.pem]);
}

/**
 * TLS listeners are opened at start only: a reload that adds, removes or moves one is refused
 * with the line that differs, and the running configuration stays.
 */
function checkTlsListeners(old: DantedConfig, next: DantedConfig): void {
  const key = (l: { host: string; port: number }): string => `${l.host} port = ${l.port}`;
  const before = old.ext.tls.internal.map(key);
  const after = next.ext.tls.internal.map(key);
  const added = next.ext.tls.internal.find((l) => !before.includes(key(l)));
  if (added) {
    throw new ProxyError('ERELOAD_TLS', `${next.file}:${added.at.line}: extension.tls.internal: ${key(added)} is new: TLS listeners open at start only (restart to add one)`);
  }
  const removed = old.ext.tls.internal.find((l) => !after.includes(key(l)));
  if (removed) {
    throw new ProxyError('ERELOAD_TLS', `${old.file}:${removed.at.line}: extension.tls.internal: ${key(removed)} is no longer in the file, but TLS listeners close at a restart only`);
  }
}

/** How often closed throttle windows are dropped from the shared counters. */
const SWEEP_MS = 10_000;

export class SocksServer implements SessionHooks {
  readonly sessions = new Set<Session>();
  private readonly listeners: net.Server[] = [];
  private readonly shared = new SharedState();
  private ticker: NodeJS.Timeout | undefined;
  private draining = false;
  private rt!: Runtime;
  private metrics: ServerMetrics | undefined;
  /** The TLS handshake of every extension.tls.internal listener; its context is swapped on reload. */
  private handshaker: tls.Server | undefined;

  /** The metrics endpoint's address while `extension.metrics` is on. */
  metricsAddress(): { host: string; port: number } | undefined {
    return this.metrics?.address;
  }

  private constructor(private readonly opts: StartOptions) {}

  static async start(config: DantedConfig, opts: StartOptions = {}): Promise<SocksServer> {
    const srv = new SocksServer(opts);
    srv.rt = await buildRuntime(config, opts, srv.shared);
    const addrs = await resolveInternals(config);
    if (addrs.length === 0 && config.ext.tls.internal.length === 0) {
      throw new ProxyError('ENOINTERNAL', `${config.file}: no internal address given for server to listen for clients on`);
    }
    // subscribed before the first accept, so every connection's events are counted
    const m = config.ext.metrics;
    if (m !== undefined) {
      const metrics = new ServerMetrics({ sessions: () => srv.sessions });
      try {
        const port = m.port === 0 ? 0 : m.port + (opts.metricsPortOffset ?? 0);
        const at = await metrics.listen(m.host, port, (err) => srv.rt.log.error(`metrics: ${err.message}`));
        srv.rt.log.info(`metrics at http://${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}/metrics`);
      } catch (e) {
        await metrics.close();
        throw new ProxyError('EMETRICS', `${config.file}:${m.line}: extension.metrics ${m.host} port = ${m.port}: ${(e as Error).message}`);
      }
      srv.metrics = metrics;
    }
    try {
      for (const a of addrs) {
        const server = await listen({
          host: a.host, port: a.port, mptcp: config.ext.mptcp, fastOpen: config.ext.fastOpen || undefined,
          reusePort: opts.reusePort, backlog: 1024,
        });
        // Half-close must survive (a client may shut down its write side after the request).
        (server as net.Server & { allowHalfOpen: boolean }).allowHalfOpen = true;
        server.on('connection', (sock: net.Socket) => srv.accept(sock));
        server.on('error', (err) => srv.acceptError(err));
        srv.listeners.push(server);
      }
      await srv.listenTls(config, opts);
    } catch (e) {
      for (const l of srv.listeners) l.close();
      await srv.metrics?.close();
      throw e;
    }
    srv.ticker = setInterval(() => srv.tick(), opts.tickMs ?? TICK_MS);
    srv.ticker.unref();
    return srv;
  }

  get config(): DantedConfig {
    return this.rt.config;
  }

  get log(): DanteLog {
    return this.rt.log;
  }

  addresses(): ListenAddress[] {
    return this.listeners.map((l) => l.address() as net.AddressInfo).map((a) => ({
      address: a.address, port: a.port, family: a.family === 'IPv6' ? 'IPv6' : 'IPv4',
    }));
  }

  /**
   * SIGHUP: a new generation for new clients; existing sessions keep theirs. Throws on a bad config.
   * New TLS certificates, key and client CA apply to new connections (docs/tls.md, "Reload");
   * TLS listeners that would have to open or close refuse the reload, naming the line.
   */
  async reload(config: DantedConfig, log?: DanteLog): Promise<void> {
    checkTlsListeners(this.rt.config, config);
    const next = await buildRuntime(config, { ...this.opts, log: log ?? this.rt.log }, this.shared);
    const old = this.rt;
    const tlsChanged = this.handshaker !== undefined && tlsMaterial(old.config) !== tlsMaterial(config);
    // a context OpenSSL refuses throws here, before anything changed
    if (tlsChanged) {
      const o = tlsServerOptions(config);
      const h = this.handshaker as tls.Server & { requestCert: boolean; rejectUnauthorized: boolean };
      h.setSecureContext(o);
      // per-server options each new connection reads (setSecureContext leaves them alone)
      h.requestCert = o.requestCert;
      h.rejectUnauthorized = o.rejectUnauthorized;
    }
    this.rt = next;
    if (tlsChanged) next.log.info('extension.tls: new certificate, key or client CA in use for new TLS connections');
    const a = old.config.ext.metrics;
    const b = config.ext.metrics;
    if (a?.host !== b?.host || a?.port !== b?.port) {
      next.log.info('extension.metrics changed: it takes effect at the next start, not at a reload');
    }
    if (log !== undefined && old.log !== log) {
      // Old sessions keep logging into the old sink until they finish; close it lazily.
      setTimeout(() => void old.log.close(), 60_000).unref();
    }
  }

  private readonly current = (): Runtime => this.rt;
  /**
   * `extension.tls.internal:` listeners (docs/tls.md): each connection completes a TLS 1.3
   * handshake (with a client certificate under extension.tls.clientca), then is a client like
   * any other. TLS is a layer in front of accept; sessions never know.
   */
  private async listenTls(config: DantedConfig, opts: StartOptions): Promise<void> {
    const t = config.ext.tls;
    if (t.internal.length === 0 || t.cert === undefined || t.key === undefined) return;
    const handshaker = tls.createServer({
      ...tlsServerOptions(config), allowHalfOpen: true,
      // the handshake has the negotiate timeout (a client that says nothing is dropped)
      handshakeTimeout: this.rt.negotiateMs > 0 ? this.rt.negotiateMs : 30_000,
    });
    this.handshaker = handshaker;
    handshaker.on('secureConnection', (sock: tls.TLSSocket) => this.accept(sock));
    handshaker.on('tlsClientError', (err: NodeJS.ErrnoException, sock: tls.TLSSocket) => {
      sock.destroy();
      if (err.code === 'ECONNRESET') return; // connected and left (a path probe), or reset
      this.rt.log.error(`TLS handshake with client ${dotAddr(sock.remoteAddress, sock.remotePort)} failed: ${err.message}`);
    });
    for (const a of t.internal) {
      const server = await listen({
        host: a.host, port: a.port, mptcp: config.ext.mptcp, fastOpen: config.ext.fastOpen || undefined, reusePort: opts.reusePort, backlog: 1024,
      });
      (server as net.Server & { allowHalfOpen: boolean }).allowHalfOpen = true;
      const where = dotAddr(a.host, a.port);
      server.on('connection', (sock: net.Socket) => this.acceptTls(sock, handshaker, where));
      server.on('error', (err) => this.acceptError(err));
      this.listeners.push(server);
    }
  }

  /**
   * A TLS listener's connection: its first byte must start a TLS record (22, handshake);
   * anything else (a cleartext SOCKS greeting) is refused with a line saying so.
   */
  private acceptTls(sock: net.Socket, handshaker: tls.Server, where: string): void {
    if (this.draining) {
      sock.destroy();
      return;
    }
    sock.on('error', noop);
    sock.once('readable', () => {
      const first = sock.read() as Buffer | null;
      if (first === null) {
        sock.destroy(); // EOF before a byte: a path probe
        return;
      }
      if (first[0] !== 0x16) {
        const what = first[0] === 5 ? 'SOCKS v5' : first[0] === 4 ? 'SOCKS v4' : `first byte 0x${first[0].toString(16).padStart(2, '0')}`;
        this.rt.log.error(`TLS listener ${where}: client ${dotAddr(sock.remoteAddress, sock.remotePort)} sent cleartext (${what}): `
          + 'cleartext SOCKS on a TLS listener is refused; use a plain internal: address, or tls = on in redsocks-ts');
        sock.destroy();
        return;
      }
      sock.unshift(first);
      handshaker.emit('connection', sock);
    });
  }

  /** accept() errors (EMFILE when out of descriptors) since the last line about them. */
  private acceptErrors = { count: 0, lastLogMs: 0 };

  /** accept() failed (libuv closes the pending connection): one log line a second at most. */
  acceptError(err: Error): void {
    const a = this.acceptErrors;
    a.count++;
    const now = Date.now();
    if (now - a.lastLogMs < 1000) return;
    this.rt.log.error(`accept(): ${err.message}${a.count > 1 ? ` (${a.count} times since the last report)` : ''}`);
    a.count = 0;
    a.lastLogMs = now;
  }
  private lastSweep = 0;

  /** A new connection (`names` once srchost looked them up); a bug here closes this connection only. */
  private accept(sock: net.Socket, names?: string[]): void {
    try {
      if (names === undefined) this.acceptOne(sock);
      else this.admit(sock, names);
    } catch (e) {
      this.acceptFailed(sock, e);
    }
  }

  private acceptFailed(sock: net.Socket, e: unknown): void {
    this.rt.log.error(`internal error accepting ${dotAddr(sock.remoteAddress, sock.remotePort)}: ${vis(String((e as Error)?.stack ?? e))}`,
      { event: 'internal-error', client: sock.remoteAddress });
    sock.destroy();
  }

  private acceptOne(sock: net.Socket): void {
    if (this.draining) {
      sock.destroy();
      return;
    }
    sock.on('error', noop);
    const checks = this.rt.config.srchost.filter((c) => c !== 'checkreplyauth');
    if (checks.length === 0) {
      this.admit(sock, undefined);
      return;
    }
    // srchost: reverse DNS before the client-rules (the socket waits, paused).
    sock.pause();
    const ip = sock.remoteAddress ?? '0.0.0.0';
    checkSrcHost(ip, checks).then((v) => {
      if (sock.destroyed) return;
      if (v.refused !== undefined) {
        const rt = this.rt;
        rt.log.info(acceptBlocked(0, dotAddr(ip, sock.remotePort), dotAddr(sock.localAddress, sock.localPort), vis(v.refused)),
          { event: 'block', stage: 'srchost', client: ip });
        refused(sock, 'srchost');
        sock.destroy();
        return;
      }
      sock.resume();
      this.accept(sock, v.names);
    }, (e) => this.acceptFailed(sock, e));
  }

  /** The client-rules and their limits, then a Session. `names`: the client's DNS names (srchost). */
  private admit(sock: net.Socket, names: string[] | undefined): void {
    if (this.draining) {
      sock.destroy();
      return;
    }
    const rt = this.rt;
    const ctx: MatchContext = {
      clientAddress: sock.remoteAddress ?? '0.0.0.0',
      clientPort: sock.remotePort ?? 0,
      serverAddress: sock.localAddress ?? '0.0.0.0',
      serverPort: sock.localPort ?? 0,
      command: 'connect',
      protocol: 'tcp',
      proxyProtocol: 'socks_v5',
      method: 'none',
      clientHostnames: names,
    };
    const m = matchRule(rt.config.clientRules, ctx, rt.sys);
    const client = dotAddr(ctx.clientAddress, ctx.clientPort);
    const internal = dotAddr(ctx.serverAddress, ctx.serverPort);
    const rule = m.rule;
    if (!m.pass) {
      if (rule === undefined || rule.log.includes('connect') || rule.log.includes('error')) {
        rt.log.info(acceptBlocked(rule?.number ?? 0, client, internal), { event: 'block', stage: 'client', client: ctx.clientAddress });
      }
      refused(sock, 'client');
      sock.destroy();
      return;
    }
    const r = rule!;
    const tickets = new SessionTickets(this.shared, ctx.clientAddress);
    const over = hasSessionLimits(r) ? admitSession(this.shared, r, ctx.clientAddress, tickets, Date.now()) : undefined;
    if (over !== undefined) {
      if (r.log.includes('error') || r.log.includes('connect')) rt.log.info(acceptBlocked(r.number, client, internal, over));
      refused(sock, 'limit');
      sock.destroy();
      return;
    }
    if (r.log.includes('connect')) {
      rt.log.info(acceptOpen('pass', r.number, client, internal), { event: 'accept', rule: r.number, client: ctx.clientAddress });
    }
    tuneSocket(sock, rt.noKeepalive);
    sock.removeListener('error', noop);
    const negotiateMs = negotiateTimeoutFor(rt, this.shared, ctx.clientAddress, rt.config.ext.optimisticExplicit && rt.config.ext.optimistic && namesPeers(r), Date.now(),
      r.timeout.negotiate);
    const session = new Session(sock, { current: this.current, clientRule: r, tickets, negotiateMs, hooks: this });
    this.sessions.add(session);
  }

  // SessionHooks
  closed(s: Session): void {
    this.sessions.delete(s);
    if (this.draining && this.sessions.size === 0) this.drainWaiter?.();
  }

  private tick(): void {
    const now = Date.now();
    for (const s of this.sessions) {
      if (s.deadline === 0 || now < s.deadline) continue;
      try {
        s.onDeadline(now);
      } catch (e) {
        s.bug(e);
      }
    }
    if (now - this.lastSweep >= SWEEP_MS) {
      this.lastSweep = now;
      sweepThrottles(this.shared, [...this.rt.config.clientRules, ...this.rt.config.socksRules], now);
    }
    const ttl = this.rt.poolNegotiateMs;
    if (this.shared.recentAuth.size > 0) {
      for (const [ip, t] of this.shared.recentAuth) if (now - t > ttl) this.shared.recentAuth.delete(ip);
    }
  }

  /** SIGUSR1: one line per client. */
  clientList(): string[] {
    const now = Date.now();
    const lines: string[] = [];
    for (const s of this.sessions) {
      const c = s.counts();
      lines.push(`client ${s.clientText} on ${s.internalText}: ${s.phaseName}` +
        (s.request ? ` ${s.request.command} -> ${s.destText}` : '') +
        `, ${c.fromClient} bytes in, ${c.toClient} bytes out, age ${Math.round((now - s.startMs) / 1000)}s`);
    }
    return lines;
  }

  dumpClients(): void {
    const lines = this.clientList();
    this.rt.log.info(`sockd: ${lines.length} client${lines.length === 1 ? '' : 's'}`);
    for (const l of lines) this.rt.log.info(l);
  }

  private drainWaiter: (() => void) | undefined;

  /** Stop accepting; wait up to graceMs for sessions, then cut the rest. */
  async close(graceMs = 0): Promise<void> {
    this.draining = true;
    // net.Server.close() calls back only when every accepted socket is gone.
    const closed = Promise.all(this.listeners.map((l) => new Promise<void>((res) => l.close(() => res()))));
    if (this.sessions.size > 0 && graceMs > 0) {
      await new Promise<void>((res) => {
        const t = setTimeout(res, graceMs);
        this.drainWaiter = () => {
          clearTimeout(t);
          res();
        };
      });
    }
    for (const s of [...this.sessions]) s.close('server shutting down');
    if (this.ticker) clearInterval(this.ticker);
    await closed;
    await this.metrics?.close();
  }
}

function noop(): void {}

/** A client rule whose `from:` names specific peers (not 0/0): with OC on, that is the allowlist. */
export function namesPeers(rule: Rule): boolean {
  const f = rule.from;
  if (f.kind === 'any') return false;
  return !((f.kind === 'ipv4' || f.kind === 'ipv6') && f.prefix === 0);
}

/**
 * timeout.negotiate for a new client: the client-rule's `timeout.negotiate` if it sets one (as in
 * Dante), else the global one. Pool peers (allowlisted: `extension.optimistic: yes` written in
 * the file and a client rule naming them in `from:`; or an IP that passed RFC 1929 within the pool timeout) may idle up to
 * extension.timeout.negotiate.pool before their greeting.
 */
export function negotiateTimeoutFor(rt: Pick<Runtime, 'negotiateMs' | 'poolNegotiateMs'>, shared: SharedState,
  ip: string, allowlisted: boolean, now: number, ruleSeconds?: number): number {
  const base = ruleSeconds !== undefined ? ruleSeconds * 1000 : rt.negotiateMs;
  if (base === 0) return 0;
  if (rt.poolNegotiateMs <= base) return base;
  if (allowlisted) return rt.poolNegotiateMs;
  const t = shared.recentAuth.get(ip);
  if (t !== undefined && now - t < rt.poolNegotiateMs) return rt.poolNegotiateMs;
  return base;
}

/** Starts a socks-server for `config` (tests and embedding). */
export function startServer(config: DantedConfig, opts?: StartOptions): Promise<SocksServer> {
  return SocksServer.start(config, opts);
}
