/**
 * The typed danted.conf model. Plain data only (no functions, no classes), so it can be
 * cloned, compared, logged as JSON and handed from one config generation to the next.
 *
 * Our extension keywords (not in Dante; `danted -V` rejects them as syntax errors):
 *
 *   extension.optimistic: yes|no           accept the optimistic-connect (OC) SOCKS5 methods
 *                                          (default yes, for clients the client rules pass)
 *   extension.optimistic.method: 0xa5      private method number of OC without auth
 *   extension.optimistic.authmethod: 0xa6  private method number of OC with RFC 1929 auth
 *   extension.optimistic.maxearly: 65536   max early-data bytes buffered before CONNECT completes
 *   extension.fastopen: N                  TCP_FASTOPEN queue length on listeners (0 = off)
 *   extension.mptcp: auto|on|off           listeners: MPTCP if the kernel has it / force / never
 *                                          (default auto)
 *   extension.mptcp.external: on|off|auto  outbound leg to the destination (default off)
 *   extension.timeout.negotiate.pool: N    negotiate timeout (s) for connections that come from a
 *                                          warm pool (pass client rule + authenticated); default 300
 *   extension.logformat: text|json         Dante's line format, or one JSON object per line
 *   extension.passwordfile: PATH           htpasswd-style `user:hash` file for socksmethod
 *                                          `username` (bcrypt, SHA-512-crypt, yescrypt), for
 *                                          containers without system users
 *   extension.auth.failures: N/S           after N failed RFC 1929 logins within S seconds from
 *                                          one address (IPv6: one /64), refuse its logins until
 *                                          the oldest is S seconds old (default 10/60; 0/0 = off)
 *   extension.metrics: IP port = N         the OpenMetrics endpoint (docs/metrics.md); off by default
 *   extension.syslog.ident: NAME           the syslog ident (default socks-server; danted = Dante's)
 *   extension.tls.internal: IP port = N    a listener that speaks TLS 1.3 only (docs/tls.md)
 *   extension.tls.cert: FILE               its certificate (PEM), and extension.tls.key: FILE its key
 *   extension.tls.clientca: FILE           require client certificates signed by this CA
 *
 * and inside `socks pass { }` rules:
 *
 *   optimistic: yes|no                     allow/deny OC for requests matching this rule
 */
import type { LogTarget } from '@mptcp-proxy/common';

/** Where a setting or rule came from, for log and error messages. */
export interface SourcePos {
  file: string;
  line: number;
}

export interface ConfigWarning extends SourcePos {
  token?: string;
  message: string;
}

/** `logoutput` / `errorlog` targets (common's LogTarget; `syslog` alone = facility 'daemon'). */
export type { LogTarget };

export type AddressFamily = 'ipv4' | 'ipv6';

/** `port = 80`, `port ne 80`, `port 1-1023` ... `range` is inclusive [port, portEnd]. */
export type PortOperator = 'eq' | 'ne' | 'ge' | 'le' | 'gt' | 'lt' | 'range';
export interface PortSpec {
  op: PortOperator;
  port: number;
  portEnd?: number; // only for 'range'
}

/** A `from:`/`to:`/`via:` address as written in a rule. */
export type RuleAddress =
  /** `0/0`: every IPv4 and IPv6 address (and every hostname) */
  | { kind: 'any'; port?: PortSpec }
  | { kind: 'ipv4'; address: string; prefix: number; port?: PortSpec }
  | { kind: 'ipv6'; address: string; prefix: number; port?: PortSpec }
  /** bare hostname: matches that exact name (case-insensitive) */
  | { kind: 'hostname'; name: string; port?: PortSpec }
  /** `.example.com`: matches example.com and every name under it; `suffix` is stored without the dot */
  | { kind: 'domain'; suffix: string; port?: PortSpec }
  /** an interface name (`lo`, `eth0`): the addresses configured on it */
  | { kind: 'interface'; name: string; port?: PortSpec };

/** `internal:` entries. `kind: 'hostname'` is resolved at listen time. */
export interface InternalAddress extends SourcePos {
  kind: 'address' | 'interface' | 'hostname';
  value: string;
  port: number; // default 1080
}

/** `external:` entries (no port). */
export interface ExternalAddress extends SourcePos {
  kind: 'address' | 'interface' | 'hostname';
  value: string;
}

export type ExternalRotation = 'none' | 'route' | 'same-same';

export type SocksMethod =
  | 'none'
  | 'username'
  | 'pam.any'
  | 'pam.address'
  | 'pam.username'
  | 'rfc931'
  | 'gssapi'
  | 'bsdauth';
export type ClientMethod = 'none' | 'pam.any' | 'pam.address' | 'rfc931';

export type Command = 'connect' | 'bind' | 'udpassociate' | 'bindreply' | 'udpreply';
export type Protocol = 'tcp' | 'udp';
export type ProxyProtocol = 'socks_v4' | 'socks_v5';
export type LogEvent = 'connect' | 'disconnect' | 'data' | 'error' | 'iooperation' | 'tcpinfo';

/** Seconds; 0 = forever / system default, as in Dante. */
export interface Timeouts {
  negotiate: number; // default 30
  ioTcp: number; // default 0 (`timeout.io` sets both tcp and udp)
  ioUdp: number; // default 0
  connect: number; // default 30
  tcpFinWait: number; // default 0
}

export interface SessionLimits {
  max?: number; // session.max
  throttle?: { count: number; seconds: number }; // session.throttle: N/S
  stateKey?: 'from' | 'hostid'; // session.state.key
  stateMax?: number; // session.state.max
  stateThrottle?: { count: number; seconds: number }; // session.state.throttle
  inheritable?: boolean; // session.inheritable
}

export interface Rule extends SourcePos {
  type: 'client' | 'socks' | 'hostid';
  action: 'pass' | 'block';
  /** 1-based within its type, as Dante prints it: `pass(3)`, `socks-rule #3`. */
  number: number;
  from: RuleAddress; // default { kind: 'any' }
  to: RuleAddress; // default { kind: 'any' }
  /** Conditions; undefined = any. */
  command?: Command[];
  protocol?: Protocol[];
  proxyProtocol?: ProxyProtocol[];
  socksMethod?: SocksMethod[];
  clientMethod?: ClientMethod[];
  user?: string[];
  group?: string[];
  /** Actions. */
  log: LogEvent[];
  session: SessionLimits;
  timeout: Partial<Timeouts>;
  udpPortRange?: { from: number; to: number };
  libwrap?: string;
  pamServiceName?: string;
  /** Our extension: undefined = follow `extension.optimistic`. */
  optimistic?: boolean;
}

export interface Route extends SourcePos {
  number: number;
  from: RuleAddress;
  to: RuleAddress;
  via: { kind: 'direct' } | { kind: 'host'; host: string; port: number };
  proxyProtocol?: ProxyProtocol[];
  method?: SocksMethod[];
  command?: Command[];
  protocol?: Protocol[];
}

export type MptcpMode = 'auto' | 'on' | 'off';

export interface Extensions {
  optimistic: boolean; // default true (issue 10: fast by default)
  /**
   * `extension.optimistic` is written in the file: only then do client rules that name peers
   * give them extension.timeout.negotiate.pool (a drop-in danted.conf keeps Dante's timeouts).
   */
  optimisticExplicit: boolean;
  optimisticMethod: number; // default 0xa5
  optimisticAuthMethod: number; // default 0xa6
  optimisticMaxEarly: number; // default 65536
  fastOpen: number; // default 0
  mptcp: MptcpMode; // default 'auto'
  mptcpExternal: MptcpMode; // default 'off'
  timeoutNegotiatePool: number; // default 300
  logFormat: 'text' | 'json'; // default 'text'
  passwordFile?: string;
  authFailures: { count: number; seconds: number }; // default 10/60
  /** The metrics endpoint (docs/metrics.md); undefined = off (the default). */
  metrics?: { host: string; port: number; line: number };
  /** The syslog ident; default 'socks-server' ('danted' for Dante's own). */
  syslogIdent: string;
  /** TLS listeners and their certificates (docs/tls.md); none by default. */
  tls: TlsServerConfig;
}

/** Where a TLS setting was written: for messages at start. */
export interface SettingPos {
  line: number;
  col: number;
  text: string;
}

export interface TlsServerConfig {
  /** `extension.tls.internal:` listeners that speak only TLS 1.3. */
  internal: Array<{ host: string; port: number; at: SettingPos }>;
  /** PEM texts read at parse time. */
  cert?: { pem: string; at: SettingPos };
  key?: { pem: string; at: SettingPos };
  /** CA of the client certificates: a TLS client must present one it signed (mutual auth). */
  clientCa?: { pem: string; at: SettingPos };
}

export interface DantedConfig {
  file: string;
  logoutput: LogTarget[]; // default [] (nowhere)
  errorlog: LogTarget[];
  debug: number; // default 0
  internal: InternalAddress[];
  internalProtocol: AddressFamily[]; // default ['ipv4', 'ipv6']
  external: ExternalAddress[];
  externalProtocol: AddressFamily[];
  externalRotation: ExternalRotation; // default 'none'
  socksMethod: SocksMethod[]; // default [] = every request blocked
  clientMethod: ClientMethod[]; // default ['none']
  user: { privileged?: string; unprivileged?: string; libwrap?: string };
  timeout: Timeouts;
  udpConnectDst: boolean; // default true
  srchost: string[];
  compatibility: string[];
  extensionBind: boolean; // Dante's own `extension: bind`
  clientRules: Rule[];
  socksRules: Rule[];
  hostidRules: Rule[];
  routes: Route[];
  ext: Extensions;
}

export type Stage = 'client' | 'socks';

/** What the matcher compares a rule against. */
export interface MatchContext {
  clientAddress: string;
  clientPort: number;
  /** The internal address the client connected to. */
  serverAddress: string;
  serverPort: number;
  /** Interface that owns serverAddress, if known. */
  interfaceName?: string;
  command: Command;
  protocol: Protocol;
  proxyProtocol: ProxyProtocol;
  method: SocksMethod;
  user?: string;
  /** Groups the user belongs to (for `group:`), if known. */
  groups?: string[];
  /** Requested destination (socks stage): an IP literal or a hostname. */
  dest?: { host: string; port: number };
  /** Reverse/forward resolutions, if the caller has them: extra names/addresses to try. */
  clientHostnames?: string[];
  destAddresses?: string[];
}

export interface MatchResult {
  rule: Rule | undefined; // undefined = the implicit default block
  pass: boolean;
}

export interface LoadResult {
  config: DantedConfig;
  warnings: ConfigWarning[];
  /** The line of each setting's last occurrence (`socksmethod`, `extension.mptcp`, ...). */
  settingLines: Record<string, number>;
}
