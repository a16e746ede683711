/**
 * SOCKS5 (RFC 1928) and username/password (RFC 1929) messages.
 *
 * Every parse* takes whatever has arrived so far and returns null when it needs more bytes, or the
 * message with `length` = bytes consumed; bytes after `length` are the caller's. Malformed input
 * throws ProtocolError:
 *   ESOCKS_VERSION       VER is not 5 (or RFC 1929 VER is not 1: ESOCKS_AUTH_VERSION)
 *   ESOCKS_METHODS       NMETHODS = 0 in a greeting
 *   ESOCKS_ATYP          unknown ATYP in a request/reply (server answers REP 08)
 *   ESOCKS_DOMAIN        zero-length domain name
 *   ESOCKS_DOMAIN_NUL    a NUL byte inside a domain name (never truncated)
 * parseRequest accepts ANY command number: a server answers REP 07 itself for ones it does not run.
 */
import { ProtocolError } from '../errors';
import { ANY_IPV4, SocksAddress, decodeAddress, encodedAddressLength, writeAddress } from './address';
import { SOCKS5, USERPASS_VERSION } from './constants';

export interface Greeting {
  methods: number[];
  length: number;
}
export interface MethodSelection {
  method: number;
  length: number;
}
export interface UserPassRequest {
  username: Buffer;
  password: Buffer;
  length: number;
}
export interface UserPassReply {
  status: number;
  length: number;
}
export interface Socks5Request {
  command: number;
  address: SocksAddress;
  length: number;
}
export interface Socks5Reply {
  rep: number;
  address: SocksAddress;
  length: number;
}

function checkVersion(v: number): void {
  if (v !== SOCKS5) throw new ProtocolError('ESOCKS_VERSION', `unsupported SOCKS version ${v}`);
}

function byteValue(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xff) throw new ProtocolError('ESOCKS_VALUE', `${what} out of range: ${n}`);
  return n;
}

export function parseGreeting(buf: Buffer): Greeting | null {
  if (buf.length < 1) return null;
  checkVersion(buf[0]);
  if (buf.length < 2) return null;
  const n = buf[1];
  if (n === 0) throw new ProtocolError('ESOCKS_METHODS', 'greeting offers no methods');
  if (buf.length < 2 + n) return null;
  return { methods: Array.from(buf.subarray(2, 2 + n)), length: 2 + n };
}

export function encodeGreeting(methods: readonly number[]): Buffer {
  if (methods.length < 1 || methods.length > 255) {
    throw new ProtocolError('ESOCKS_METHODS', `a greeting needs 1..255 methods, got ${methods.length}`);
  }
  return Buffer.from([SOCKS5, methods.length, ...methods.map((m) => byteValue(m, 'method'))]);
}

export function parseMethodSelection(buf: Buffer): MethodSelection | null {
  if (buf.length < 1) return null;
  checkVersion(buf[0]);
  if (buf.length < 2) return null;
  return { method: buf[1], length: 2 };
}

export function encodeMethodSelection(method: number): Buffer {
  return Buffer.from([SOCKS5, byteValue(method, 'method')]);
}

/** RFC 1929. Empty username/password are accepted (some clients send an empty password). */
export function parseUserPassRequest(buf: Buffer): UserPassRequest | null {
  if (buf.length < 1) return null;
  if (buf[0] !== USERPASS_VERSION) {
    throw new ProtocolError('ESOCKS_AUTH_VERSION', `unsupported username/password version ${buf[0]}`);
  }
  if (buf.length < 2) return null;
  const ulen = buf[1];
  if (buf.length < 3 + ulen) return null;
  const plen = buf[2 + ulen];
  const total = 3 + ulen + plen;
  if (buf.length < total) return null;
  return {
    username: Buffer.from(buf.subarray(2, 2 + ulen)),
    password: Buffer.from(buf.subarray(3 + ulen, total)),
    length: total,
  };
}

export function encodeUserPassRequest(user: string | Buffer, pass: string | Buffer): Buffer {
  const u = typeof user === 'string' ? Buffer.from(user, 'utf8') : user;
  const p = typeof pass === 'string' ? Buffer.from(pass, 'utf8') : pass;
  if (u.length > 255) throw new ProtocolError('ESOCKS_AUTH_LENGTH', `username is ${u.length} bytes (max 255)`);
  if (p.length > 255) throw new ProtocolError('ESOCKS_AUTH_LENGTH', `password is ${p.length} bytes (max 255)`);
  return Buffer.concat([Buffer.from([USERPASS_VERSION, u.length]), u, Buffer.from([p.length]), p]);
}

export function parseUserPassReply(buf: Buffer): UserPassReply | null {
  if (buf.length < 1) return null;
  if (buf[0] !== USERPASS_VERSION) {
    throw new ProtocolError('ESOCKS_AUTH_VERSION', `unsupported username/password reply version ${buf[0]}`);
  }
  if (buf.length < 2) return null;
  return { status: buf[1], length: 2 };
}

export function encodeUserPassReply(status: number): Buffer {
  return Buffer.from([USERPASS_VERSION, byteValue(status, 'status')]);
}

/** Shared shape of request and reply: VER X RSV ATYP ADDR PORT. RSV is ignored. */
function parseFrame(buf: Buffer): { code: number; address: SocksAddress; length: number } | null {
  if (buf.length < 1) return null;
  checkVersion(buf[0]);
  if (buf.length < 4) return null;
  const decoded = decodeAddress(buf, 3);
  if (decoded === null) return null;
  return { code: buf[1], address: decoded.address, length: 3 + decoded.length };
}

function encodeFrame(code: number, address: SocksAddress): Buffer {
  const out = Buffer.alloc(3 + encodedAddressLength(address));
  out[0] = SOCKS5;
  out[1] = byteValue(code, 'code');
  out[2] = 0;
  writeAddress(address, out, 3);
  return out;
}

export function parseRequest(buf: Buffer): Socks5Request | null {
  const f = parseFrame(buf);
  return f && { command: f.code, address: f.address, length: f.length };
}

export function encodeRequest(command: number, address: SocksAddress): Buffer {
  return encodeFrame(command, address);
}

export function parseReply(buf: Buffer): Socks5Reply | null {
  const f = parseFrame(buf);
  return f && { rep: f.code, address: f.address, length: f.length };
}

/**
 * REP as soon as `VER REP` has arrived (or null). For servers that send a truncated `05 REP` and
 * close on failure: on EOF, a non-zero value here is the answer.
 */
export function peekReplyStatus(buf: Buffer): number | null {
  if (buf.length < 1) return null;
  checkVersion(buf[0]);
  return buf.length < 2 ? null : buf[1];
}

/** Always a full reply; BND defaults to 0.0.0.0:0. */
export function encodeReply(rep: number, address: SocksAddress = ANY_IPV4): Buffer {
  return encodeFrame(rep, address);
}

/**
 * First byte of a client stream: 4 or 5, null if nothing yet. Anything else throws ESOCKS_VERSION
 * (a server can then close without a reply, as Dante does).
 */
export function detectVersion(buf: Buffer): 4 | 5 | null {
  if (buf.length < 1) return null;
  if (buf[0] === 4 || buf[0] === 5) return buf[0];
  throw new ProtocolError('ESOCKS_VERSION', `unsupported SOCKS version ${buf[0]}`);
}
