/**
 * One running `redsocks { }` section: its listener, its upstream protocol and dialer,
 * and its client list (for SIGUSR1 and pressure handling).
 */
import type * as net from 'node:net';
import type { SpliceBudget } from '@mptcp-proxy/common';
import type { BaseSection, RedsocksSection } from '../config/types';
import type { RedsocksLog } from '../log/redsocks-log';
import type { Redirector } from '../redirector/redirector';
import { plainAddress } from '../redirector/redirector';
import type { Upstreams } from '../upstream/registry';
import type { UpstreamProtocol } from '../upstream/upstream';
import { createDialer, dialLog, dialerDumpLines, type Dialer } from '../dial';
import { applyTcpKeepalive } from '../net/keepalive';
import { boundPort, openListener } from '../net/listener';
import { RedsocksClient, type ClientOwner } from './client';

export interface InstanceHost {
  readonly log: RedsocksLog;
  readonly spliceBudget: SpliceBudget;
  /** -N workers: every listener is opened with SO_REUSEPORT. */
  readonly reusePort: boolean;
  /** The daemon's protocol objects (what they learned survives a reload). */
  readonly upstreams: Upstreams;
  /** True when redsocks' once-an-hour "proxy loop" notice is due now (the daemon keeps the time). */
  loopNoticeDue(now: number): boolean;
  /** Called for each accepted client; false = refuse (over the limit). */
  admit(inst: Instance): boolean;
  released(inst: Instance): void;
  acceptError(err: NodeJS.ErrnoException): void;
}

export function listenKey(cfg: RedsocksSection): string {
  return `${cfg.localIp}:${cfg.localPort}`;
}

export class Instance implements ClientOwner {
  readonly clients = new Set<RedsocksClient>();
  server: net.Server | undefined;
  protocol: UpstreamProtocol;
  dialer: Dialer;
  port = 0;
  private paused = false;

  constructor(
    private readonly host: InstanceHost,
    public cfg: RedsocksSection,
    public base: BaseSection,
    private readonly redirector: Redirector,
  ) {
    this.protocol = host.upstreams.protocolFor(cfg.type);
    this.dialer = this.makeDialer();
  }

  private makeDialer(): Dialer {
    return createDialer(this.cfg, this.base, { log: dialLog(this.host.log) });
  }

  get log(): RedsocksLog {
    return this.host.log;
  }

  get spliceBudget(): SpliceBudget {
    return this.host.spliceBudget;
  }

  get key(): string {
    return listenKey(this.cfg);
  }

  async listen(): Promise<void> {
    this.server = await openListener(
      {
        host: this.cfg.localIp,
        port: this.port || this.cfg.localPort,
        backlog: this.cfg.listenq,
        transparent: this.redirector.transparent,
        reusePort: this.host.reusePort,
      },
      (s) => this.onConnection(s),
    );
    this.server.on('error', (err: NodeJS.ErrnoException) => this.host.acceptError(err));
    this.port = boundPort(this.server);
  }

  /** Stop accepting (the kernel backlog is closed; reopened by resume()). */
  pause(): void {
    if (this.paused || !this.server) return;
    this.paused = true;
    this.server.close();
    this.server = undefined;
  }

  async resume(): Promise<void> {
    if (!this.paused) return;
    this.paused = false;
    try {
      await this.listen();
    } catch (err) {
      this.log.error(`bind: ${(err as Error).message}`);
      this.paused = true;
      throw err;
    }
  }

  /** Swap in a reloaded section with the same listen address (running clients keep theirs). */
  update(cfg: RedsocksSection, base: BaseSection): void {
    this.cfg = cfg;
    this.base = base;
    this.protocol = this.host.upstreams.protocolFor(cfg.type);
    this.dialer.close();
    this.dialer = this.makeDialer();
  }

  private onConnection(socket: net.Socket): void {
    socket.allowHalfOpen = true;
    socket.on('error', () => undefined);
    if (!this.host.admit(this)) {
      socket.destroy();
      return;
    }
    const b = this.base;
    applyTcpKeepalive(socket, b);
    const clientAddr = { address: plainAddress(socket.remoteAddress ?? '0.0.0.0'), port: socket.remotePort ?? 0 };
    let dest;
    try {
      dest = this.redirector.originalDst(socket);
    } catch (err) {
      this.log.warning(`[${clientAddr.address}:${clientAddr.port}->?]: getsockopt: ${(err as Error).message}`);
      socket.destroy();
      this.host.released(this);
      return;
    }
    this.warnProxyLoop(clientAddr, dest);
    const c = new RedsocksClient(this, socket, clientAddr, dest);
    this.clients.add(c);
    void c.run();
  }

  /** redsocks' once-an-hour notice when a client goes to the proxy itself, or to 127/8 or 0/8. */
  private warnProxyLoop(client: { address: string; port: number }, dest: { address: string; port: number }): void {
    const loop =
      (dest.address === this.cfg.ip && dest.port === this.cfg.port) || dest.address.startsWith('127.') || dest.address.startsWith('0.');
    if (!loop) return;
    if (!this.host.loopNoticeDue(Date.now())) return;
    this.log.notice(
      `[${client.address}:${client.port}->${dest.address}:${dest.port}]: client tries to connect to the proxy using proxy! Usual proxy security policy is to drop alike connection`,
    );
  }

  clientClosed(c: RedsocksClient): void {
    if (this.clients.delete(c)) this.host.released(this);
  }

  /** SIGUSR1: redsocks_debug_dump_instance(). */
  dump(now = Date.now()): void {
    this.log.notice(`Dumping client list for ${this.cfg.type} at ${this.cfg.localIp}:${this.port || this.cfg.localPort}:`);
    for (const c of this.clients) c.log.notice(c.dumpLine(now));
    this.log.notice(`End of client list. ${this.clients.size} clients.`);
    // not in redsocks: the WAN path view and warm pool of this instance's dialer
    const extra = dialerDumpLines(this.dialer, now);
    if (extra.length === 0) return;
    this.log.notice(`Dumping upstream paths for ${this.cfg.type} at ${this.cfg.localIp}:${this.port || this.cfg.localPort}:`);
    for (const line of extra) this.log.notice(line);
    this.log.notice(`End of upstream paths.`);
  }

  /** Drops clients idle for at least `seconds`; returns how many. */
  dropIdle(seconds: number, now = Date.now()): number {
    let n = 0;
    for (const c of [...this.clients]) {
      if (now - c.lastEvent >= seconds * 1000) {
        c.dropIdle();
        n++;
      }
    }
    return n;
  }

  async closeListener(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.paused = false;
    // server.close() would wait for every client; only the listening socket goes here
    if (s) s.close();
  }

  /** Closes the listener and every client. */
  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) s.close();
    for (const c of [...this.clients]) c.close();
    this.dialer.close();
  }
}
