/** redsocks-ts: a drop-in for redsocks 0.5 whose upstream connections are MPTCP. */
export { startRedsocks } from './core/daemon';
export type { RedsocksHandle, StartOptions, ClientInfo } from './core/daemon';
export * from './config';
export * from './log';
export { getRedirector } from './redirector';
export type { Redirector } from './redirector';
export { Upstreams } from './upstream/registry';
export { ServerCapabilities, serverKey, type ServerVerdict } from './upstream/server-capabilities';
export type * from './upstream/upstream';
export { createDialer } from './dial';
export type { Dialer, DialerOptions, PathView, PoolStats } from './dial';
export { parseNetstat, readMptcpCounters } from './gateway';
export type { Service, ServiceKind } from './core/services';
export { DnsForwarder, dnsChannel, type DnsQueryEvent } from './dns/forwarder';
export { Dnstc } from './dns/dnstc';
export { DnsCache } from './dns/cache';
export * as dnsMessage from './dns/message';
export { Redudp, udpChannel, MAX_PKTQUEUE, type UdpFlowEvent } from './redudp/redudp';
