/**
 * SOCKS4 and SOCKS4a. Request: VN=4 CD DSTPORT DSTIP USERID 00 [DOMAIN 00] — a DSTIP of 0.0.0.x
 * with x != 0 means a domain follows the user id (4a). Reply: VN=0 CD DSTPORT DSTIP (8 bytes).
 * Errors: ESOCKS_VERSION, ESOCKS4_USERID (no NUL within 255 bytes), ESOCKS_DOMAIN, ESOCKS_ATYP
 * (IPv6 cannot be sent). Any command number parses; a server answers 91 for unsupported ones.
 */
import { ProtocolError } from '../errors';
import { SocksAddress, checkPort, formatIPv4, parseIPv4 } from './address';
import { SOCKS4 } from './constants';

export const SOCKS4_MAX_FIELD = 255;

export interface Socks4Request {
  command: number;
  address: SocksAddress;
  userId: string;
  length: number;
}
export interface Socks4Reply {
  rep: number;
  address: SocksAddress;
  length: number;
}

/** Index of the NUL ending a field starting at `from`; null if not arrived; throws if too long. */
function findNul(buf: Buffer, from: number, code: string, what: string): number | null {
  const limit = Math.min(buf.length, from + SOCKS4_MAX_FIELD + 1);
  const at = buf.subarray(from, limit).indexOf(0);
  if (at !== -1) return from + at;
  if (buf.length > from + SOCKS4_MAX_FIELD) throw new ProtocolError(code, `${what} longer than ${SOCKS4_MAX_FIELD} bytes`);
  return null;
}

export function parseRequest(buf: Buffer): Socks4Request | null {
  if (buf.length < 1) return null;
  if (buf[0] !== SOCKS4) throw new ProtocolError('ESOCKS_VERSION', `unsupported SOCKS version ${buf[0]}`);
  if (buf.length < 8) return null;
  const command = buf[1];
  const port = buf.readUInt16BE(2);
  const userEnd = findNul(buf, 8, 'ESOCKS4_USERID', 'user id');
  if (userEnd === null) return null;
  const userId = buf.toString('utf8', 8, userEnd);
  const is4a = buf[4] === 0 && buf[5] === 0 && buf[6] === 0 && buf[7] !== 0;
  if (!is4a) {
    return { command, address: { type: 'ipv4', host: formatIPv4(buf, 4), port }, userId, length: userEnd + 1 };
  }
  const nameEnd = findNul(buf, userEnd + 1, 'ESOCKS_DOMAIN', 'domain name');
  if (nameEnd === null) return null;
  if (nameEnd === userEnd + 1) throw new ProtocolError('ESOCKS_DOMAIN', 'empty SOCKS4a domain name');
  const host = buf.toString('utf8', userEnd + 1, nameEnd);
  return { command, address: { type: 'domain', host, port }, userId, length: nameEnd + 1 };
}

/** SOCKS4 for IPv4, SOCKS4a (DSTIP 0.0.0.1) for a domain. IPv6 throws ESOCKS_ATYP. */
export function encodeRequest(command: number, address: SocksAddress, userId: string | Buffer = ''): Buffer {
  checkPort(address.port);
  const user = typeof userId === 'string' ? Buffer.from(userId, 'utf8') : userId;
  if (user.includes(0) || user.length > SOCKS4_MAX_FIELD) throw new ProtocolError('ESOCKS4_USERID', 'invalid SOCKS4 user id');
  const head = Buffer.alloc(8);
  head[0] = SOCKS4;
  head[1] = command;
  head.writeUInt16BE(address.port, 2);
  if (address.type === 'ipv4') {
    parseIPv4(address.host).copy(head, 4);
    return Buffer.concat([head, user, Buffer.from([0])]);
  }
  if (address.type === 'domain') {
    const name = Buffer.from(address.host, 'utf8');
    if (name.length < 1 || name.length > SOCKS4_MAX_FIELD || name.includes(0)) {
      throw new ProtocolError('ESOCKS_DOMAIN', `invalid SOCKS4a domain name "${address.host}"`);
    }
    head[7] = 1;
    return Buffer.concat([head, user, Buffer.from([0]), name, Buffer.from([0])]);
  }
  throw new ProtocolError('ESOCKS_ATYP', 'SOCKS4 cannot carry an IPv6 address');
}

/** 8 bytes; VN must be 0 (redsocks insists on it). */
export function parseReply(buf: Buffer): Socks4Reply | null {
  if (buf.length < 1) return null;
  if (buf[0] !== 0) throw new ProtocolError('ESOCKS_VERSION', `unexpected SOCKS4 reply version ${buf[0]}`);
  if (buf.length < 8) return null;
  return { rep: buf[1], address: { type: 'ipv4', host: formatIPv4(buf, 4), port: buf.readUInt16BE(2) }, length: 8 };
}

/** Non-IPv4 addresses are sent as 0.0.0.0:0. */
export function encodeReply(rep: number, address?: SocksAddress): Buffer {
  const out = Buffer.alloc(8);
  out[1] = rep;
  if (address && address.type === 'ipv4') {
    checkPort(address.port);
    out.writeUInt16BE(address.port, 2);
    parseIPv4(address.host).copy(out, 4);
  }
  return out;
}
