/**
 * The one interface every upstream protocol implements: redsocks' `relay_subsys`
 * vtable in TypeScript. The core (accept, original destination, buffering, relay,
 * client list) and the dialer never see protocol bytes or name a protocol; each protocol
 * file never sees nftables.
 */
import type * as net from 'node:net';
import type { ReceiveBuffer } from '@mptcp-proxy/common';
import type { RedsocksSection, UpstreamType } from '../config/types';

export interface Endpoint {
  address: string;
  port: number;
}

export interface DialOptions {
  /** Ask for TCP Fast Open: the socket is returned at once and the first write rides the SYN. */
  fastOpen?: boolean;
  /** Allow a warm-pool connection (default true). */
  pooled?: boolean;
}

/** A connection to the proxy, as the dialer hands it out. */
export interface Dialed {
  socket: net.Socket;
  /** Name of the WAN path its initial subflow uses, when paths are configured. */
  path?: string;
  /** It came from the warm pool (it idled: the server may have closed it meanwhile). */
  pooled?: boolean;
  /**
   * Writes the connection's first bytes when the way they are cut into segments matters (a
   * pooled connection that idled: docs/optimistic-connect.md, "Warm pool"); resolves once
   * they are queued. Absent: write them as usual.
   */
  writeFirst?: (data: Buffer) => Promise<void>;
  /**
   * Pooled connections with two or more WAN paths: call right after writing the first flight.
   * A silent pooled connection has one subflow, so if its path died while it idled nothing
   * else can carry those bytes (docs/optimistic-connect.md, "Warm pool"). When the server has
   * acknowledged none of them (TCP and MPTCP level) within the path's race delay plus one RTT,
   * the dialer resets the connection (nothing stays queued to reach the server later), ranks
   * the path last and sets `unanswered`: the stream may then send them again on a fresh one.
   */
  sent?(): void;
  /** Why the dialer reset this pooled connection (set by the guard `sent()` armed). */
  unanswered?: string;
}

/** Per-connection logger that prefixes redsocks' `[client->dest]: `. */
export interface ConnLogger {
  debug(msg: string): void;
  info(msg: string): void;
  error(msg: string): void;
}

export interface UpstreamContext {
  readonly client: net.Socket;
  readonly clientAddr: Endpoint;
  /** The original destination (SO_ORIGINAL_DST or getsockname). */
  readonly dest: Endpoint;
  /** The `redsocks { }` section this connection belongs to. */
  readonly section: RedsocksSection;
  /**
   * Client bytes that arrived before the tunnel is up, kept by the core (bounded: past 64 KiB
   * the client is paused). Protocols read() a message from it, wait() for the first bytes or
   * drain() what is there; what they leave goes to the upstream first.
   */
  readonly early: ReceiveBuffer;
  readonly log: ConnLogger;
  /** Open a connection to the proxy (section.ip:port) through the MPTCP dialer. */
  dial(opts?: DialOptions): Promise<Dialed>;
  /**
   * Start relaying client -> upstream now, before `establish` resolves (optimistic
   * connect keeps streaming without waiting for the reply). Buffered early data the
   * protocol did not take is written first.
   */
  startClientToUpstream(upstream: net.Socket): void;
}

export interface Tunnel {
  upstream: net.Socket;
  /** Bytes read from upstream past the handshake: the first bytes for the client. */
  leftover: Buffer;
}

export interface UpstreamProtocol {
  /** The `type = ...` value. */
  readonly name: UpstreamType;
  /**
   * What redsocks logs when a section of this type starts (its instance_init), e.g. a password
   * socks4 ignores. The grammar reports the same findings at parse time (for -t).
   */
  warnings?(section: RedsocksSection): string[];
  /**
   * Build the tunnel to ctx.dest. Rejects with an UpstreamError (common/errors.ts) whose message
   * is the text redsocks logs (e.g. the SOCKS REP or the HTTP status line); `resetClient` tells
   * the core to RST rather than FIN the LAN client (the optimistic-connect failure contract).
   * Any other error (a socket's, a parser's) is logged and the client closed.
   */
  establish(ctx: UpstreamContext): Promise<Tunnel>;
}
