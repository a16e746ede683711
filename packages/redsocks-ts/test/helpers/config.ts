/** Builds parsed-config objects for tests that do not go through the redsocks.conf parser. */
import type { BaseSection, RedsocksConfig, RedsocksInstance } from '../../src/config/types';

export function baseSection(over: Partial<BaseSection> = {}): BaseSection {
  return {
    line: 1,
    present: true,
    logDebug: true,
    logInfo: true,
    log: 'stderr',
    daemon: false,
    redirector: 'iptables',
    tcpKeepaliveTime: 0,
    tcpKeepaliveProbes: 0,
    tcpKeepaliveIntvl: 0,
    rlimitNofile: 0,
    redsocksConnMax: 0,
    connpresIdleTimeout: 7440,
    maxAcceptBackoff: 60000,
    ...over,
  };
}

export function instance(over: Partial<RedsocksInstance> = {}): RedsocksInstance {
  return {
    line: 10,
    localIp: '127.0.0.1',
    localPort: 0,
    ip: '127.0.0.1',
    port: 1080,
    type: 'socks5',
    listenq: 128,
    splice: false,
    discloseSrc: 'false',
    onProxyFail: 'close',
    mptcp: 'off',
    optimistic: 'off',
    optimisticMaxEarly: 0,
    optimisticGatherMs: 0,
    optimisticMethod: 0xa5,
    optimisticAuthMethod: 0xa6,
    optimisticCacheTtl: 0,
    fastopen: false,
    fastopenDataPorts: [],
    poolSize: 0,
    poolIdleTimeout: 0,
    paths: [],
    pathProbeInterval: 0,
    pathProbeTimeout: 0,
    ...over,
  };
}

export function config(redsocks: RedsocksInstance[], base: Partial<BaseSection> = {}): RedsocksConfig {
  return { file: 'test.conf', base: baseSection(base), redsocks, redudp: [], dnstc: [] };
}
