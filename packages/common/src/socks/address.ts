import { isIPv4, isIPv6 } from 'node:net';
import { ProtocolError } from '../errors';
import { Atyp } from './constants';

/** A SOCKS destination or bound address. Domains are kept as given (never resolved here). */
export interface SocksAddress {
  type: 'ipv4' | 'ipv6' | 'domain';
  host: string;
  port: number;
}

export const ANY_IPV4: Readonly<SocksAddress> = Object.freeze({ type: 'ipv4', host: '0.0.0.0', port: 0 });

/** Classifies `host` as an IP literal or a domain. Brackets around IPv6 are stripped. */
export function addressFromHost(host: string, port: number): SocksAddress {
  let h = host;
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (isIPv4(h)) return { type: 'ipv4', host: h, port };
  if (isIPv6(h)) return { type: 'ipv6', host: formatIPv6(parseIPv6(h)), port };
  return { type: 'domain', host, port };
}

export function atypOf(address: SocksAddress): Atyp {
  switch (address.type) {
    case 'ipv4':
      return Atyp.IPv4;
    case 'ipv6':
      return Atyp.IPv6;
    case 'domain':
      return Atyp.Domain;
    default:
      throw new ProtocolError('ESOCKS_ATYP', `unknown address type ${String((address as SocksAddress).type)}`);
  }
}

export function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new ProtocolError('ESOCKS_PORT', `invalid port ${port}`);
  }
}

export function parseIPv4(host: string): Buffer {
  if (!isIPv4(host)) throw new ProtocolError('ESOCKS_ADDRESS', `not an IPv4 address: ${host}`);
  return Buffer.from(host.split('.').map((p) => Number(p)));
}

export function formatIPv4(buf: Buffer, offset = 0): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/** 16 bytes from an IPv6 literal (with `::` and an optional dotted IPv4 tail; no zone id). */
export function parseIPv6(host: string): Buffer {
  if (!isIPv6(host) || host.includes('%')) {
    throw new ProtocolError('ESOCKS_ADDRESS', `not an IPv6 address: ${host}`);
  }
  let text = host;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    // dotted IPv4 tail (::ffff:1.2.3.4) becomes two hex groups
    const v4 = parseIPv4(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const groupsOf = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  let groups: number[];
  const dbl = text.indexOf('::');
  if (dbl === -1) {
    groups = groupsOf(text);
  } else {
    const head = groupsOf(text.slice(0, dbl));
    const rest = groupsOf(text.slice(dbl + 2));
    groups = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  }
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(groups[i], i * 2);
  return out;
}

/** RFC 5952 text: lower case, longest zero run (≥2 groups) as `::`, IPv4-mapped as ::ffff:a.b.c.d. */
export function formatIPv6(buf: Buffer, offset = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(buf.readUInt16BE(offset + i * 2));
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIPv4(buf, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (arr: number[]): string => arr.map((x) => x.toString(16)).join(':');
  if (bestLen < 2) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/** Byte length of ATYP+ADDR+PORT for `address`. */
export function encodedAddressLength(address: SocksAddress): number {
  switch (address.type) {
    case 'ipv4':
      return 7;
    case 'ipv6':
      return 19;
    default:
      return 4 + Buffer.byteLength(address.host, 'utf8');
  }
}

/** Writes ATYP ADDR PORT at `offset`; returns the offset after it. */
export function writeAddress(address: SocksAddress, out: Buffer, offset: number): number {
  checkPort(address.port);
  let o = offset;
  switch (address.type) {
    case 'ipv4':
      out[o++] = Atyp.IPv4;
      parseIPv4(address.host).copy(out, o);
      o += 4;
      break;
    case 'ipv6':
      out[o++] = Atyp.IPv6;
      parseIPv6(address.host).copy(out, o);
      o += 16;
      break;
    case 'domain': {
      const name = Buffer.from(address.host, 'utf8');
      if (name.length < 1 || name.length > 255) {
        throw new ProtocolError('ESOCKS_DOMAIN', `domain name must be 1..255 bytes, got ${name.length}`);
      }
      if (name.includes(0)) throw new ProtocolError('ESOCKS_DOMAIN_NUL', 'NUL byte in domain name');
      out[o++] = Atyp.Domain;
      out[o++] = name.length;
      name.copy(out, o);
      o += name.length;
      break;
    }
    default:
      atypOf(address);
  }
  out.writeUInt16BE(address.port, o);
  return o + 2;
}

/** ATYP ADDR PORT as a new buffer. */
export function encodeAddress(address: SocksAddress): Buffer {
  const out = Buffer.alloc(encodedAddressLength(address));
  writeAddress(address, out, 0);
  return out;
}

/**
 * Reads ATYP ADDR PORT at `offset`. Returns null when more bytes are needed. Unknown ATYP throws
 * ESOCKS_ATYP (as soon as the ATYP byte is there), an empty domain ESOCKS_DOMAIN, a domain with a
 * NUL byte ESOCKS_DOMAIN_NUL (C resolvers would stop at the NUL and look up a different name).
 */
export function decodeAddress(buf: Buffer, offset = 0): { address: SocksAddress; length: number } | null {
  if (buf.length < offset + 1) return null;
  const atyp = buf[offset];
  switch (atyp) {
    case Atyp.IPv4:
      if (buf.length < offset + 7) return null;
      return {
        address: { type: 'ipv4', host: formatIPv4(buf, offset + 1), port: buf.readUInt16BE(offset + 5) },
        length: 7,
      };
    case Atyp.IPv6:
      if (buf.length < offset + 19) return null;
      return {
        address: { type: 'ipv6', host: formatIPv6(buf, offset + 1), port: buf.readUInt16BE(offset + 17) },
        length: 19,
      };
    case Atyp.Domain: {
      if (buf.length < offset + 2) return null;
      const n = buf[offset + 1];
      if (n === 0) throw new ProtocolError('ESOCKS_DOMAIN', 'empty domain name');
      if (buf.length < offset + 4 + n) return null;
      const nul = buf.indexOf(0, offset + 2);
      if (nul !== -1 && nul < offset + 2 + n) throw new ProtocolError('ESOCKS_DOMAIN_NUL', 'NUL byte in domain name');
      const host = buf.toString('utf8', offset + 2, offset + 2 + n);
      return { address: { type: 'domain', host, port: buf.readUInt16BE(offset + 2 + n) }, length: 4 + n };
    }
    default:
      throw new ProtocolError('ESOCKS_ATYP', `unsupported address type ${atyp}`);
  }
}

/** `host:port`, with IPv6 in brackets. */
export function formatAddress(address: SocksAddress): string {
  return address.type === 'ipv6' ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
