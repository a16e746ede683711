/** SOCKS protocol numbers (RFC 1928, RFC 1929, SOCKS4/4a) and the optimistic-connect extension. */

export const SOCKS5 = 5;
export const SOCKS4 = 4;
/** RFC 1929 sub-negotiation version (not 5). */
export const USERPASS_VERSION = 1;

export enum Method {
  NoAuth = 0x00,
  Gssapi = 0x01,
  UserPass = 0x02,
  NoAcceptable = 0xff,
}

/** Private-range methods for optimistic connect (docs/optimistic-connect.md §2); configurable in 0x80..0xfe. */
export const DEFAULT_OC_METHOD = 0xa5;
export const DEFAULT_OC_AUTH_METHOD = 0xa6;
/**
 * A WAN path probe of redsocks-ts (packages/redsocks-ts/docs/wan-paths.md, "Path probes"): a greeting that
 * offers this private method alone, then EOF. socks-server logs it at debug, not as a blocked
 * connection; any other SOCKS5 server answers "no acceptable method" and closes.
 */
export const PATH_PROBE_METHOD = 0xa7;
export const PATH_PROBE_GREETING: Readonly<Buffer> = Buffer.from([5, 1, PATH_PROBE_METHOD]);

export enum Command {
  Connect = 1,
  Bind = 2,
  UdpAssociate = 3,
}

export enum Atyp {
  IPv4 = 1,
  Domain = 3,
  IPv6 = 4,
}

export enum Rep {
  Succeeded = 0,
  GeneralFailure = 1,
  NotAllowed = 2,
  NetUnreachable = 3,
  HostUnreachable = 4,
  ConnRefused = 5,
  TtlExpired = 6,
  CommandNotSupported = 7,
  AtypNotSupported = 8,
  /** Only under the OC methods: "connection attempt timed out" (borrowed from SOCKS 6). */
  Timeout = 9,
}

/** SOCKS4 CD values in replies; requests use Command (1 connect, 2 bind). */
export enum Socks4Rep {
  Granted = 90,
  Rejected = 91,
  IdentUnreachable = 92,
  IdentMismatch = 93,
}

/** The texts redsocks' socks5.c logs as `Socks5 server status: <text> (N)`. */
const SOCKS5_TEXT: readonly string[] = [
  'ok',
  'server failure',
  'connection not allowed by ruleset',
  'network unreachable',
  'host unreachable',
  'connection refused',
  'TTL expired',
  'command not supported',
  'address type not supported',
  'connection attempt timed out',
];

/** Text for a SOCKS5 REP; '' for unassigned values, as redsocks prints. */
export function repText(rep: number): string {
  return SOCKS5_TEXT[rep] ?? '';
}

/** The texts redsocks' socks4.c logs as `Socks4 server status: <text> (N)`. */
export function socks4RepText(rep: number): string {
  switch (rep) {
    case Socks4Rep.Granted:
      return 'ok';
    case Socks4Rep.Rejected:
      return 'fail';
    case Socks4Rep.IdentUnreachable:
      return 'no ident';
    case Socks4Rep.IdentMismatch:
      return 'fake ident';
    default:
      return '?';
  }
}
