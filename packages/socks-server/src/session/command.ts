/**
 * The contract between the session (state machine) and the command that runs once the
 * socks-rules passed: CONNECT (connect-command.ts), BIND (bind-command.ts) and UDP ASSOCIATE
 * (udp-associate.ts). A command gets everything it needs in a CommandContext and talks back
 * through SessionControl; it never reads or writes the session's state.
 */
import type { ConnOutcome } from '../events';
import type * as net from 'node:net';
import type { SocksAddress } from '@mptcp-proxy/common';
import type { Rule, SocksMethod } from '../config';
import type { Runtime } from '../runtime';
import type { Request } from './request';

/** The client connection as accepted. */
export interface Peer {
  readonly clientAddress: string;
  readonly clientPort: number;
  /** The internal address/port the client reached us on. */
  readonly localAddress: string;
  readonly localPort: number;
}

/** What a command may do to its session. */
export interface SessionControl {
  /** The session is gone (closed): late callbacks must do nothing. */
  readonly closed: boolean;
  readonly client: net.Socket;
  /** The reply for the request (coalesced with held optimistic-connect bytes). */
  reply(rep: number, bound?: SocksAddress): void;
  /** More handshake bytes for the client (BIND's second reply). */
  sendReplyBytes(buf: Buffer): void;
  /** Reply with REP from an errno and close; early data is dropped. */
  failErrno(code: string | undefined, why: string): void;
  close(reason: string): void;
  /** How the session ends, for its closed event (events.ts); the first call wins. */
  settle(outcome: ConnOutcome, code: string | undefined): void;
  /** The destination side is up or failed: releases the pending-connect slot and the connect deadline. */
  connectDone(): void;
  /** Hands the queued early data over (once); the session stops buffering. */
  takeEarly(): Buffer;
  /** A relay reads the client from now on. */
  established(): void;
  /** `pass(N): proto/command [: ...` with the local address of the outbound side. */
  logOpen(local: string, proto?: 'tcp' | 'udp'): void;
  /** (Re)arms the session's deadline `ms` from now (0 = none): UDP idle, or a relay's tcp_fin_wait. */
  idleIn(ms: number): void;
  /** The destination as Dante prints it (`host.port`). */
  readonly destText: string;
  /** `fn` for a callback: an exception in it is logged with the client and closes this session only. */
  guard<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  /** Logs at debug level (when -d is given), for events too frequent for the rule's `log:`. */
  debug(text: string): void;
}

export interface CommandContext {
  /** The config generation whose socks-rules passed the request. */
  readonly rt: Runtime;
  readonly request: Request;
  readonly rule: Rule;
  readonly peer: Peer;
  readonly method: SocksMethod;
  readonly user: string | undefined;
  readonly groups: string[] | undefined;
  /** timeout.io for this session (rule or global), ms; 0 = none. */
  readonly ioMs: number;
  /** timeout.tcp_fin_wait (rule or global), ms: how long a half-closed relay may stay; 0 = no limit. */
  readonly finWaitMs: number;
  readonly session: SessionControl;
}

/** A running command. */
export interface CommandHandler {
  /** Runs the command; the session holds the handler before this is called. */
  start(): void;
  /** Client bytes that arrive while the command owns the session but before a relay does. */
  onClientData?(chunk: Buffer): void;
  onClientEnd?(): void;
  /** Called once from the session's teardown; releases the command's sockets. */
  dispose(): void;
  /** Destination-side byte counts and addresses for the log. */
  counts(): { toDest: number; fromDest: number; local: string };
}
