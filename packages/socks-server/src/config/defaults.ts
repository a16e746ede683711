import type { DantedConfig, Extensions, Timeouts } from './types';

/** Dante 1.4.2's defaults (danted.conf(5)). */
export function defaultTimeouts(): Timeouts {
  return { negotiate: 30, ioTcp: 0, ioUdp: 0, connect: 30, tcpFinWait: 0 };
}

export function defaultExtensions(): Extensions {
  return {
    optimistic: true,
    optimisticExplicit: false,
    optimisticMethod: 0xa5,
    optimisticAuthMethod: 0xa6,
    optimisticMaxEarly: 65536,
    fastOpen: 0,
    mptcp: 'auto',
    mptcpExternal: 'off',
    timeoutNegotiatePool: 300,
    logFormat: 'text',
    authFailures: { count: 10, seconds: 60 },
    syslogIdent: 'socks-server',
    tls: { internal: [] },
  };
}

export const DEFAULT_INTERNAL_PORT = 1080;

export function defaultConfig(file: string): DantedConfig {
  return {
    file,
    logoutput: [],
    errorlog: [],
    debug: 0,
    internal: [],
    internalProtocol: ['ipv4', 'ipv6'],
    external: [],
    externalProtocol: ['ipv4', 'ipv6'],
    externalRotation: 'none',
    socksMethod: [],
    clientMethod: ['none'],
    user: {},
    timeout: defaultTimeouts(),
    udpConnectDst: true,
    srchost: [],
    compatibility: [],
    extensionBind: false,
    clientRules: [],
    socksRules: [],
    hostidRules: [],
    routes: [],
    ext: defaultExtensions(),
  };
}
