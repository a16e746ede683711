/** Builds parsed-config objects for tests that do not go through the redsocks.conf parser. */
import { defaultBase, toBase } from '../../src/config/sections/base';
import type { BaseSection, RedsocksConfig, RedsocksSection } from '../../src/config/types';

export function baseSection(over: Partial<BaseSection> = {}): BaseSection {
  // redsocks' defaults, with the logging tests like to see and an explicit redirector
  return { ...toBase(defaultBase(1, true)), logDebug: true, logInfo: true, redirector: 'iptables', ...over };
}

export function section(over: Partial<RedsocksSection> = {}): RedsocksSection {
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
    extensions: true,
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
    pathsAuto: false,
    pathProbeInterval: 0,
    pathBackupProbeInterval: 0,
    pathProbeTimeout: 0,
    ...over,
  };
}

export function config(redsocks: RedsocksSection[], base: Partial<BaseSection> = {}): RedsocksConfig {
  return { file: 'test.conf', base: baseSection(base), redsocks, redudp: [], dnstc: [], dns: [] };
}
