/**
 * The parsed form of redsocks.conf. Field names are camelCase; the config file spells
 * every key snake_case exactly as redsocks 0.5 does (`local_ip` -> `localIp`).
 */

export type RedirectorName = 'iptables' | 'generic';
export type UpstreamType = 'socks4' | 'socks5' | 'http-connect' | 'http-relay';
export type DiscloseSrc = 'false' | 'X-Forwarded-For' | 'Forwarded_ip' | 'Forwarded_ipport';
export type OnProxyFail = 'close' | 'forward_http_err';
export type MptcpMode = 'on' | 'off' | 'auto';
export type OptimisticMode = 'on' | 'off' | 'auto';
/** `pool_size`: self-sizing, or a fixed number of warm connections (0 = none). */
export type PoolSize = number | 'auto';

export interface ConfigWarning {
  file: string;
  line: number;
  message: string;
}

export interface BaseSection {
  /** Line of `base {`, 0 when the file has no base section (redsocks then refuses to start). */
  line: number;
  present: boolean;
  logDebug: boolean;
  logInfo: boolean;
  /**
   * The `log` value; defaults to 'stderr', or 'syslog:daemon' when daemon = on. Like
   * redsocks it is only validated at start: use `parseLogTarget(base.log)`.
   */
  log: string;
  daemon: boolean;
  user?: string;
  group?: string;
  chroot?: string;
  /** Checked at the section's `}` like redsocks; undefined only when there is no base section. */
  redirector?: RedirectorName;
  /** 0 = kernel default. SO_KEEPALIVE itself is always on. */
  tcpKeepaliveTime: number;
  tcpKeepaliveProbes: number;
  tcpKeepaliveIntvl: number;
  /** 0 = keep the inherited RLIMIT_NOFILE. */
  rlimitNofile: number;
  /** 0 = auto; see `effectiveConnMax()` for redsocks' formula. */
  redsocksConnMax: number;
  /** Seconds; 0 = never drop idle clients under pressure. */
  connpresIdleTimeout: number;
  /** Milliseconds, > 0. */
  maxAcceptBackoff: number;

  // ---- extensions (not in redsocks 0.5) ----
  /** The metrics endpoint (docs/metrics.md): off while metricsPort is undefined. */
  metricsIp: string;
  metricsPort?: number;
  /** The syslog ident (`syslog_ident`; default redsocks-ts, `redsocks` for redsocks' own). */
  syslogIdent: string;
}

/** One WAN path the dialer may use (extension `paths = "..."`). */
export interface WanPath {
  name: string;
  /** Source IPv4/IPv6 address the subflow binds to. */
  source: string;
  device?: string;
  mark?: number;
  backup: boolean;
}

/**
 * The extension keys that say how a section reaches its SOCKS server: MPTCP, the WAN paths and
 * their probes. `redsocks {}`, `redudp {}` and `dns {}` have them.
 */
export interface DialKeys {
  mptcp: MptcpMode;
  /** Fixed paths (`paths = "..."`); empty without pathsAuto: let the kernel / MPTCP path manager pick. */
  paths: WanPath[];
  /** `paths = auto` (the default in `redsocks {}`): the paths are read from the kernel and followed live. */
  pathsAuto?: boolean;
  /** ms */
  pathProbeInterval: number;
  /** ms; how often a backup path is probed while an active path is up. */
  pathBackupProbeInterval: number;
  /** ms */
  pathProbeTimeout: number;
}

/** TLS 1.3 to the SOCKS server (docs/tls.md): `tls = on` and its keys, in every section that dials one. */
export interface TlsKeys {
  /** Off when undefined. */
  tls?: TlsClientConfig;
}

export interface RedsocksSection extends DialKeys, TlsKeys {
  /** Line of `redsocks {` in the file. */
  line: number;
  localIp: string;
  localPort: number;
  /** Upstream proxy address (a hostname is resolved at parse time, as redsocks does). */
  ip: string;
  port: number;
  type: UpstreamType;
  login?: string;
  password?: string;
  listenq: number;
  splice: boolean;
  discloseSrc: DiscloseSrc;
  onProxyFail: OnProxyFail;

  // ---- extensions (not in redsocks 0.5) ----
  /** `extensions = off`: every extension key the section does not set goes back to redsocks 0.5. */
  extensions: boolean;
  optimistic: OptimisticMode;
  /** Bytes of client data sent before the SOCKS reply arrives. */
  optimisticMaxEarly: number;
  /** How long to wait for the client's first bytes before sending, ms. */
  optimisticGatherMs: number;
  /** SOCKS5 method number offered for optimistic connect without auth. */
  optimisticMethod: number;
  /** SOCKS5 method number offered for optimistic connect with RFC 1929 auth. */
  optimisticAuthMethod: number;
  /** Seconds a server's "supports optimistic connect" verdict is cached. */
  optimisticCacheTtl: number;
  fastopen: boolean;
  /** Destination ports whose first bytes may ride the SYN (a TLS ClientHello always may). */
  fastopenDataPorts: number[];
  /** Warm idle connections kept to the proxy: 'auto' (self-sizing, the default), N, or 0 = no pool. */
  poolSize: PoolSize;
  /** Seconds; must stay below the server's negotiate timeout. */
  poolIdleTimeout: number;
}

/** `tls = on` and its keys: PEM texts read at parse time, the pin as lower-case hex. */
export interface TlsClientConfig {
  /** CA certificates that sign the server's certificate (`tls_ca`). */
  ca?: string;
  /** SHA-256 of the server's certificate (`tls_pin`). */
  pin?: string;
  /** Client certificate and key for mutual authentication (`tls_cert`, `tls_key`). */
  cert?: string;
  key?: string;
  /** The name checked against the server's certificate with `tls_ca` (default: the `ip`). */
  servername?: string;
}

/** Where a section listens (`local_ip`, `local_port`). */
export interface ListenKeys {
  line: number;
  localIp: string;
  localPort: number;
}

/** The SOCKS server a section uses (`ip`, `port`, `login`, `password`). */
export interface ProxyKeys {
  ip: string;
  port: number;
  login?: string;
  password?: string;
}

/** redsocks 0.5's `redudp {}`; IPv6 addresses and the DialKeys are our extensions. */
export interface RedudpSection extends ListenKeys, ProxyKeys, DialKeys, TlsKeys {
  /** '0.0.0.0' = TPROXY mode. */
  destIp: string;
  destPort: number;
  /** Seconds. */
  udpTimeout: number;
  /** Seconds; parsed but unused, as in redsocks. */
  udpTimeoutStream: number;
}

export type DnstcSection = ListenKeys;

/**
 * Extension section `dns {}` (not in redsocks 0.5): a DNS forwarder for the LAN on UDP and
 * TCP that sends every query as DNS over TCP through a SOCKS5 tunnel to `resolver_ip`.
 */
export interface DnsSection extends ListenKeys, ProxyKeys, DialKeys, TlsKeys {
  /** The resolver reached through the tunnel. */
  resolverIp: string;
  resolverPort: number;
  /** Tunnels kept open to the resolver. */
  connections: number;
  /** Queries outstanding on one tunnel at most (RFC 7766 pipelining). */
  maxInflight: number;
  /** ms a query may take before it is given up (the client then retries). */
  queryTimeout: number;
  /** Answers kept (by TTL); 0 = no cache. */
  cacheSize: number;
  /** The largest UDP answer sent to an EDNS client (RFC 6891; DNS flag day 2020: 1232). */
  udpSize: number;
}

export interface RedsocksConfig {
  /** The file name used in messages. */
  file: string;
  base: BaseSection;
  redsocks: RedsocksSection[];
  redudp: RedudpSection[];
  dnstc: DnstcSection[];
  /** Extension sections `dns {}`. */
  dns: DnsSection[];
}

/** Where a key was assigned: `section` opened at `sectionLine`, the assignment ended at `line`. */
export interface KeyLine {
  section: string;
  sectionLine: number;
  key: string;
  line: number;
}

export interface LoadResult {
  config: RedsocksConfig;
  warnings: ConfigWarning[];
  /** Every assignment's line, in file order (for messages about a setting). */
  keyLines: KeyLine[];
}
