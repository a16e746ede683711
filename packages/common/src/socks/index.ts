/**
 * The SOCKS codec. SOCKS5 functions are exported flat (parseRequest is the SOCKS5 one) and as the
 * `socks5` namespace; SOCKS4 ones as the `socks4` namespace and as parseSocks4Request & co.
 */
export * from './constants';
export * from './address';
export * from './socks5';
export * as socks5 from './socks5';
export * as socks4 from './socks4';
export {
  parseRequest as parseSocks5Request,
  encodeRequest as encodeSocks5Request,
  parseReply as parseSocks5Reply,
  encodeReply as encodeSocks5Reply,
} from './socks5';
export {
  parseRequest as parseSocks4Request,
  encodeRequest as encodeSocks4Request,
  parseReply as parseSocks4Reply,
  encodeReply as encodeSocks4Reply,
  SOCKS4_MAX_FIELD,
} from './socks4';
export type { Socks4Request, Socks4Reply } from './socks4';
export * from './udp';
export * from './reply-codes';
export * from './optimistic';
