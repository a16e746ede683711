/**
 * The per-connection events of redsocks-ts, published through `node:diagnostics_channel`
 * (docs/metrics.md). Every publisher checks `hasSubscribers` first, so with no subscriber
 * (metrics off) an event costs one property read. The metrics endpoint, and anything a user
 * attaches with `diagnostics_channel.subscribe(name, fn)`, read them.
 *
 * This module only names the channels and their message types; it imports nothing else of
 * the daemon, so every layer (core, dial, upstream) may publish.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type * as net from 'node:net';

/** Names of the channels (stable: part of the user-visible interface). */
export const CHANNELS = {
  accepted: 'redsocks-ts:conn:accepted',
  dialled: 'redsocks-ts:conn:dialled',
  handshake: 'redsocks-ts:conn:handshake',
  relaying: 'redsocks-ts:conn:relaying',
  closed: 'redsocks-ts:conn:closed',
  pool: 'redsocks-ts:pool',
  optimistic: 'redsocks-ts:optimistic',
  /** Published by dial/path-health.ts: `PathEvent` on every WAN path state change. */
  path: 'redsocks-ts:path',
  /** `dns {}` (dns/forwarder.ts): one DnsQueryEvent per query. */
  dns: 'redsocks-ts:dns',
  /** `redudp {}` (redudp/redudp.ts): UdpFlowEvent on each flow's open, ready, move and close. */
  udp: 'redsocks-ts:udp',
  /** `redudp {}`: UdpDatagramEvent for each datagram relayed, either way. */
  udpDatagram: 'redsocks-ts:udp:datagram',
} as const;

/** Which connection: the `redsocks {}` section (`local_ip:local_port`), client and destination. */
export interface ConnRef {
  instance: string;
  client: string;
  dest: string;
}

export type ConnAccepted = ConnRef;

export interface ConnDialled extends ConnRef {
  /** WAN path of the initial subflow, when paths are configured. */
  path?: string;
  /** Came from the warm pool. */
  pooled: boolean;
  /** From accept to a connected upstream socket. */
  ms: number;
}

export interface ConnHandshake extends ConnRef {
  /** From accept to the tunnel being up (the upstream protocol's handshake done). */
  ms: number;
}

export type ConnRelaying = ConnRef;

/**
 * How a connection ended: `ok` both directions closed cleanly, `reset` the relay ended on an
 * error, `upstream` the tunnel was never built (dial or handshake failed), `dropped` redsocks
 * dropped it (idle under pressure, shutdown).
 */
export type ConnOutcome = 'ok' | 'reset' | 'upstream' | 'dropped';

export interface ConnClosed extends ConnRef {
  outcome: ConnOutcome;
  /** The stable error code (errno name or one of common/src/errors.ts), when there was one. */
  code?: string;
  /** Client -> upstream and upstream -> client bytes relayed. */
  bytesUp: number;
  bytesDown: number;
  /** WAN path of the initial subflow, when known. */
  path?: string;
  ms: number;
  /** The upstream socket, still open while the event is delivered (its subflows can be read). */
  upstream?: net.Socket;
}

export interface PoolEvent {
  instance: string;
  hit: boolean;
  path?: string;
}

/** An optimistic-connect verdict learnt about a SOCKS5 server (upstream/socks5.ts). */
export interface OptimisticEvent {
  server: string;
  verdict: 'oc' | 'pipeline' | 'sequential';
}

export const connAccepted = diagnosticsChannel.channel(CHANNELS.accepted);
export const connDialled = diagnosticsChannel.channel(CHANNELS.dialled);
export const connHandshake = diagnosticsChannel.channel(CHANNELS.handshake);
export const connRelaying = diagnosticsChannel.channel(CHANNELS.relaying);
export const connClosed = diagnosticsChannel.channel(CHANNELS.closed);
export const poolChannel = diagnosticsChannel.channel(CHANNELS.pool);
export const optimisticChannel = diagnosticsChannel.channel(CHANNELS.optimistic);

/**
 * How a DNS query ended: `answered` (by the resolver or the cache, any RCODE it gave),
 * `servfail` (the tunnels could not answer in query_timeout: we answered SERVFAIL), `formerr`
 * (the question could not be read: we answered FORMERR), `ignored` (not a query: no answer).
 */
export type DnsOutcome = 'answered' | 'servfail' | 'formerr' | 'ignored';

/** One query to a `dns {}` forwarder. */
export interface DnsQueryEvent {
  /** The `dns {}` section: `local_ip:local_port`. */
  section: string;
  client: string;
  transport: 'udp' | 'tcp';
  outcome: DnsOutcome;
  name?: string;
  type?: number;
  /** The answer's RCODE (FORMERR/SERVFAIL when we made it). */
  rcode?: number;
  cached: boolean;
  truncated: boolean;
  ms: number;
  error?: string;
}

/** A `redudp {}` flow (one client address and one destination) and its UDP ASSOCIATEs. */
export interface UdpFlowEvent {
  /** The `redudp {}` section: `local_ip:local_port`. */
  section: string;
  /** open: first datagram; ready: its first association is up; move: a new association on another path; close. */
  event: 'open' | 'ready' | 'move' | 'close';
  client: string;
  dest: string;
  /** The WAN path of the association (when paths are configured). */
  path?: string;
  /** 'move': the path it left; 'close': why. */
  reason?: string;
}

/** One datagram a `redudp {}` flow relayed: `up` from the LAN client to the server, `down` back. */
export interface UdpDatagramEvent {
  section: string;
  direction: 'up' | 'down';
  /** Payload bytes (without the SOCKS5 UDP header). */
  bytes: number;
}

export const dnsChannel = diagnosticsChannel.channel(CHANNELS.dns);
export const udpChannel = diagnosticsChannel.channel(CHANNELS.udp);
export const udpDatagramChannel = diagnosticsChannel.channel(CHANNELS.udpDatagram);
