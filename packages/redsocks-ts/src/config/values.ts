import { inetAton } from './inet-aton';
import { isIPv6 } from 'node:net';
import { ConfigValueError, addressFromHost } from '@mptcp-proxy/common';
import type { ParseContext } from './section-spec';
import { strtoul } from './strtoul';

const TRUE_WORDS = ['ok', 'on', 'yes', 'true'];
const FALSE_WORDS = ['off', 'no', 'false'];

/** redsocks' pt_bool: lowercase words only. */
export function parseBool(token: string): boolean {
  if (TRUE_WORDS.includes(token)) return true;
  if (FALSE_WORDS.includes(token)) return false;
  throw new ConfigValueError('boolean is not parsed');
}

/** redsocks' pt_uint16: range is checked before trailing garbage, as redsocks does. */
export function parseUint16(token: string): number {
  const r = strtoul(token);
  if (r.value > 0xffffn) throw new ConfigValueError('integer out of 16bit range');
  if (r.end !== token.length) throw new ConfigValueError('integer is not parsed');
  return Number(r.value);
}

/** redsocks' pt_uint32: no range check, the value is silently truncated to 32 bits. */
export function parseUint32(token: string): number {
  const r = strtoul(token);
  if (r.end !== token.length) throw new ConfigValueError('integer is not parsed');
  return Number(r.value & 0xffffffffn);
}

/**
 * redsocks' pt_in_addr: inet_aton, else a parse-time IPv4 lookup. An IPv6 literal is our
 * extension (redsocks 0.5 has no IPv6: its lookup fails with EAI_ADDRFAMILY); see
 * docs/redsocks-compat.md.
 */
export function parseInAddr(token: string, ctx: ParseContext): string {
  const direct = inetAton(token);
  if (direct !== null) return direct;
  if (isIPv6(token) && !token.includes('%')) return addressFromHost(token, 0).host;
  const r = ctx.resolve(token);
  if ('error' in r) throw new ConfigValueError(`unable to resolve ${token}, ${r.error}`);
  const chosen = r.addresses[0]!;
  if (r.addresses.length !== 1) {
    ctx.warn(`${token} resolves to ${r.addresses.length} addresses, using ${chosen}`);
  }
  return chosen;
}
