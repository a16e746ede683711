/**
 * Extension section `dns {}` (not in redsocks 0.5; docs/dns.md): the LAN's DNS forwarder. Keys
 * follow redsocks' naming (`local_ip`, `ip`, `login`, ...) and its value types.
 */
import { ConfigValueError } from '@mptcp-proxy/common';
import { dialDefaults, dialKeys, finishTls, tlsKeys, positive } from '../extensions';
import type { KeyParser, SectionSpec } from '../section-spec';
import { listenKeys, proxyKeys } from './shared-keys';
import type { DnsSection } from '../types';
import { parseInAddr, parseUint16, parseUint32 } from '../values';

/** The UDP answer size DNS flag day 2020 settled on (no IP fragmentation on common paths). */
export const DEFAULT_DNS_UDP_SIZE = 1232;

const keys = new Map<string, KeyParser<DnsSection>>([
  ...listenKeys,
  ...proxyKeys,
  ['resolver_ip', (t, v, ctx) => void (t.resolverIp = parseInAddr(v, ctx))],
  ['resolver_port', (t, v) => void (t.resolverPort = positive('resolver_port', parseUint16(v)))],
  ['connections', (t, v) => void (t.connections = positive('connections', parseUint16(v)))],
  ['max_inflight', (t, v) => void (t.maxInflight = positive('max_inflight', parseUint16(v)))],
  ['query_timeout', (t, v) => void (t.queryTimeout = positive('query_timeout', parseUint32(v)))],
  ['cache_size', (t, v) => void (t.cacheSize = parseUint32(v))],
  ['udp_size', (t, v) => void (t.udpSize = parseUint16(v))],
  ...dialKeys,
  // TLS to the SOCKS server: the keys of `redsocks {}` (docs/tls.md)
  ...tlsKeys,
]);

export const dnsSection: SectionSpec<DnsSection> = {
  name: 'dns',
  keys,
  create: (line) => ({
    line,
    localIp: '127.0.0.1',
    localPort: 53,
    ip: '127.0.0.1',
    port: 1080,
    resolverIp: '',
    resolverPort: 53,
    connections: 2,
    maxInflight: 64,
    queryTimeout: 4000,
    cacheSize: 10000,
    udpSize: DEFAULT_DNS_UDP_SIZE,
    ...dialDefaults(),
  }),
  onExit(t) {
    if (t.resolverIp === '') throw new ConfigValueError('no `resolver_ip` for dns', 'name the resolver the tunnel leads to, e.g. `resolver_ip = 10.9.0.53;`');
    if (t.port === 0) throw new ConfigValueError('no `port` for dns (the SOCKS5 server\'s)');
    if (t.udpSize < 512) throw new ConfigValueError(`udp_size <${t.udpSize}> is below 512, the size every DNS client accepts`);
    if ((t.login === undefined) !== (t.password === undefined)) throw new ConfigValueError('dns needs either both login and password or none of them');
    finishTls(t);
  },
  commit(t, builder) {
    builder.config.dns.push(t);
  },
};
