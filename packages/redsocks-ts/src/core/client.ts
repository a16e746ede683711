/**
 * One intercepted connection: buffer early client data, let the upstream protocol build
 * the tunnel, then relay. Mirrors redsocks_client's life cycle and its log lines.
 */
import type * as net from 'node:net';
import type { RedsocksSection } from '../config/types';
import { connLogger, type FullConnLogger } from '../log/conn-log';
import type { Endpoint, UpstreamContext, UpstreamProtocol } from '../upstream/upstream';
import type { Dialer } from '../dial';
import { ReceiveBuffer, Relay, UpstreamError, errorCode, type RelayError, type SpliceBudget } from '@mptcp-proxy/common';
import type { RedsocksLog } from '../log/redsocks-log';
import { connAccepted, connClosed, connDialled, connHandshake, connRelaying, type ConnOutcome, type ConnRef } from '../events';

export interface ClientOwner {
  readonly cfg: RedsocksSection;
  /** The daemon's fd budget for spliced relays. */
  readonly spliceBudget: SpliceBudget;
  readonly protocol: UpstreamProtocol;
  readonly dialer: Dialer;
  readonly log: RedsocksLog;
  clientClosed(c: RedsocksClient): void;
}

/** Client bytes buffered before the tunnel is up; past this the client is paused (TCP flow control holds the rest). */
export const EARLY_DATA_LIMIT = 64 * 1024;

interface Shut {
  rd: boolean;
  wr: boolean;
}

function fdOf(s: net.Socket | undefined): number {
  const h = (s as unknown as { _handle?: { fd?: number } } | undefined)?._handle;
  return typeof h?.fd === 'number' ? h.fd : -1;
}

function shutStr(s: Shut): string {
  return s.rd && s.wr ? 'SHUT_RDWR' : s.rd ? 'SHUT_RD' : s.wr ? 'SHUT_WR' : '';
}

export function secUsec(ms: number): string {
  const us = Math.max(0, Math.round(ms * 1000));
  return `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;
}

export class RedsocksClient {
  readonly firstEvent = Date.now();
  lastEvent = Date.now();
  readonly log: FullConnLogger;
  upstream: net.Socket | undefined;
  private relay: Relay | undefined;
  private readonly early: ReceiveBuffer;
  private readonly clientShut: Shut = { rd: false, wr: false };
  private readonly relayShut: Shut = { rd: false, wr: false };
  private closed = false;
  /** What the closed event reports (events.ts). */
  private outcome: ConnOutcome = 'dropped';
  private errCode: string | undefined;
  private path: string | undefined;
  /** Client bytes the protocol sent with its handshake (optimistic connect), before the relay. */
  private earlySent = 0;

  constructor(
    private readonly owner: ClientOwner,
    readonly socket: net.Socket,
    readonly clientAddr: Endpoint,
    readonly dest: Endpoint,
  ) {
    this.log = connLogger(owner.log, clientAddr, dest);
    this.early = new ReceiveBuffer(socket, { pauseAt: EARLY_DATA_LIMIT });
  }

  async run(): Promise<void> {
    const { owner } = this;
    this.log.info('accepted');
    if (connAccepted.hasSubscribers) connAccepted.publish(this.ref());
    const cfg = owner.cfg;
    const ctx: UpstreamContext = {
      client: this.socket,
      clientAddr: this.clientAddr,
      dest: this.dest,
      section: cfg,
      early: this.early,
      log: this.log,
      dial: async (opts) => {
        const d = await owner.dialer.dial(opts);
        this.upstream = d.socket;
        this.path = d.path;
        if (connDialled.hasSubscribers) {
          connDialled.publish({ ...this.ref(), path: d.path, pooled: d.pooled === true, ms: Date.now() - this.firstEvent });
        }
        if (this.closed) d.socket.destroy();
        return d;
      },
      startClientToUpstream: (up) => this.startUp(up),
    };
    let tunnel;
    try {
      tunnel = await owner.protocol.establish(ctx);
    } catch (e) {
      this.outcome = 'upstream';
      this.errCode = errorCode(e) ?? 'EUPSTREAM';
      this.fail(e);
      return;
    }
    if (connHandshake.hasSubscribers) connHandshake.publish({ ...this.ref(), ms: Date.now() - this.firstEvent });
    if (this.closed) {
      tunnel.upstream.destroy();
      return;
    }
    if (this.early.failed && !this.early.ended) {
      this.log.info('client error before the tunnel was up');
      this.close();
      tunnel.upstream.destroy();
      return;
    }
    this.upstream = tunnel.upstream;
    this.lastEvent = Date.now();
    const relay = this.relay ?? this.startUp(tunnel.upstream);
    this.track(relay.startBtoA(tunnel.leftover), 'relay');
    this.log.debug('data relaying started');
    if (connRelaying.hasSubscribers) connRelaying.publish(this.ref());
  }

  /**
   * client -> upstream starts (optimistic connect may do this before establish resolves);
   * buffered early data goes first. Creates the relay (common's: half-close, backpressure).
   */
  private startUp(up: net.Socket): Relay {
    if (this.relay) return this.relay;
    const rest = this.early.detach();
    // everything read from the client so far that is not in `rest` went out with the handshake
    this.earlySent = Math.max(0, this.socket.bytesRead - rest.length);
    const relay = new Relay(this.socket, up, {
      splice: this.owner.cfg.splice ? this.owner.spliceBudget : undefined,
      // the daemon's policy: by default a short connection is over before a switch could pay off
      spliceAfterBytes: this.owner.spliceBudget.policy.afterBytes,
      onBytes: () => {
        this.lastEvent = Date.now();
      },
    });
    this.relay = relay;
    this.track(relay.startAtoB(rest), 'client');
    relay.done.then(
      () => this.close(true),
      (err: RelayError) => {
        if (this.closed) return;
        const side = err.side === 'a' ? 'client' : err.side === 'b' ? 'relay' : '';
        this.outcome = 'reset';
        this.errCode = err.code;
        if (err.code !== 'ERELAY_CLOSED') this.log.info(`${side} error, code ${err.code}: ${err.message}`);
        this.close(false);
      },
    );
    return relay;
  }

  /** Marks SHUT_RD / SHUT_WR for the SIGUSR1 dump once a direction has passed its EOF on. */
  private track(pipe: { done: Promise<unknown> }, from: 'client' | 'relay'): void {
    pipe.done.then(
      () => {
        if (from === 'client') {
          this.clientShut.rd = true;
          this.relayShut.wr = true;
        } else {
          this.relayShut.rd = true;
          this.clientShut.wr = true;
        }
      },
      () => undefined,
    );
  }

  private fail(err: unknown): void {
    const msg = err instanceof Error ? err.message : String(err);
    const code = errorCode(err);
    const sys = (err as NodeJS.ErrnoException | undefined)?.syscall;
    if (sys) this.log.notice(`relay error, code ${code ?? ''}: ${msg}`);
    else this.log.notice(msg);
    if (err instanceof UpstreamError && err.clientHandled) {
      // forward_http_err: the protocol wrote the reply and called end(); let it flush
      this.closed = true;
      this.early.detach();
      this.socket.resume();
      const t = setTimeout(() => this.socket.destroy(), 30_000);
      this.socket.once('close', () => {
        clearTimeout(t);
        this.finish(false);
      });
      return;
    }
    if (err instanceof UpstreamError && err.resetClient && typeof this.socket.resetAndDestroy === 'function') {
      this.closed = true;
      this.early.detach();
      this.finish(false);
      this.socket.resetAndDestroy();
      this.upstream?.destroy();
      return;
    }
    this.close();
  }

  /** Drop both sockets (idempotent). `clean` = both directions finished with FIN. */
  close(clean = false): void {
    if (this.closed) return;
    this.closed = true;
    this.early.detach();
    this.finish(clean);
    this.socket.destroy();
    this.upstream?.destroy();
    this.relay?.abort();
  }

  private finished = false;
  /** redsocks_drop_client(): `connection closed` after a clean shutdown, else the dropping line. */
  private finish(clean: boolean): void {
    if (this.finished) return;
    this.finished = true;
    if (clean) this.outcome = 'ok';
    if (connClosed.hasSubscribers) {
      connClosed.publish({
        ...this.ref(),
        outcome: this.outcome,
        code: this.errCode,
        bytesUp: this.earlySent + (this.relay?.aToB ?? 0),
        bytesDown: this.relay?.bToA ?? 0,
        path: this.path,
        ms: Date.now() - this.firstEvent,
        upstream: this.upstream,
      });
    }
    if (clean) this.log.info('connection closed');
    else {
      this.log.info(
        `dropping client (${this.eventStr(this.socket, this.clientShut)}), relay (${this.eventStr(this.upstream, this.relayShut)}), idle ${secUsec(Date.now() - this.lastEvent)}s`,
      );
    }
    this.owner.clientClosed(this);
  }

  /** Bytes relayed so far: client -> upstream, upstream -> client. */
  bytes(): { up: number; down: number } {
    return { up: this.earlySent + (this.relay?.aToB ?? 0), down: this.relay?.bToA ?? 0 };
  }

  private ref(): ConnRef {
    return {
      instance: `${this.owner.cfg.localIp}:${this.owner.cfg.localPort}`,
      client: `${this.clientAddr.address}:${this.clientAddr.port}`,
      dest: `${this.dest.address}:${this.dest.port}`,
    };
  }

  /** Dropped under pressure, as redsocks' drop_idle_connections does. */
  dropIdle(): void {
    this.close(false);
  }

  private eventStr(s: net.Socket | undefined, shut: Shut): string {
    if (!s) return '-/-';
    const r = !shut.rd ? 'R' : '-';
    const w = !shut.wr ? 'W' : '-';
    return `${r}/${w}`;
  }

  /** One SIGUSR1 dump line (without the `[c->d]: ` prefix). */
  dumpLine(now: number): string {
    const cs = shutStr(this.clientShut);
    const rs = shutStr(this.relayShut);
    return (
      `client: ${fdOf(this.socket)} (${this.eventStr(this.socket, this.clientShut)})${cs ? ' ' : ''}${cs}, ` +
      `relay: ${fdOf(this.upstream)} (${this.eventStr(this.upstream, this.relayShut)})${rs ? ' ' : ''}${rs}, ` +
      `age: ${secUsec(now - this.firstEvent)} sec, idle: ${secUsec(now - this.lastEvent)} sec.`
    );
  }
}
