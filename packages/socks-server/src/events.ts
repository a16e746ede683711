/**
 * The per-connection events of socks-server, published through `node:diagnostics_channel`
 * (docs/metrics.md). Publishers check `hasSubscribers` first: with no subscriber (metrics
 * off) an event costs one property read. This module only names the channels and their
 * message types and imports nothing of the server, so any layer may publish.
 */
import diagnosticsChannel from 'node:diagnostics_channel';

/** Names of the channels (stable: part of the user-visible interface). */
export const CHANNELS = {
  accepted: 'socks-server:conn:accepted',
  refused: 'socks-server:conn:refused',
  negotiated: 'socks-server:conn:negotiated',
  dialled: 'socks-server:conn:dialled',
  relaying: 'socks-server:conn:relaying',
  closed: 'socks-server:conn:closed',
  optimistic: 'socks-server:optimistic',
} as const;

/** Which connection: the client's `ip:port` and the listener's `ip:port`. */
export interface ConnRef {
  client: string;
  internal: string;
}

export type ConnAccepted = ConnRef;

/** Closed at accept, before any SOCKS byte: a client-rule, srchost or a session limit. */
export interface ConnRefused extends ConnRef {
  stage: 'client' | 'srchost' | 'limit';
}

/** The SOCKS negotiation is over and a socks-rule passed the request. */
export interface ConnNegotiated extends ConnRef {
  method: string;
  optimistic: boolean;
  command: string;
  /** From accept to the request passing the rules. */
  ms: number;
}

export interface ConnDialled extends ConnRef {
  dest: string;
  /** From the request passing the rules to the destination connected. */
  ms: number;
}

export type ConnRelaying = ConnRef;

/**
 * `ok` relayed and closed; `blocked` a socks-rule said no; `failed` the command failed (REP);
 * `negotiation` the client never got through greeting/auth/request (error or timeout);
 * `error` a relay or session ended on an error or timeout after it was established.
 */
export type ConnOutcome = 'ok' | 'blocked' | 'failed' | 'negotiation' | 'error';

export interface ConnClosed extends ConnRef {
  outcome: ConnOutcome;
  /** `REP_n` for a SOCKS reply, else an error code (errno name, ProtocolError code, ETIMEOUT_*). */
  code?: string;
  /** Client bytes relayed to the destination, destination bytes relayed to the client. */
  bytesIn: number;
  bytesOut: number;
  ms: number;
}

/** A client offered the optimistic-connect methods: did this server accept them? */
export interface OptimisticEvent extends ConnRef {
  verdict: 'accepted' | 'declined';
}

export const connAccepted = diagnosticsChannel.channel(CHANNELS.accepted);
export const connRefused = diagnosticsChannel.channel(CHANNELS.refused);
export const connNegotiated = diagnosticsChannel.channel(CHANNELS.negotiated);
export const connDialled = diagnosticsChannel.channel(CHANNELS.dialled);
export const connRelaying = diagnosticsChannel.channel(CHANNELS.relaying);
export const connClosed = diagnosticsChannel.channel(CHANNELS.closed);
export const optimisticChannel = diagnosticsChannel.channel(CHANNELS.optimistic);
