import { isIPv4, isIPv6 } from 'node:net';
import { parseLogTarget as parseTarget } from '@mptcp-proxy/common';
import type { LogTarget, PortSpec, PortOperator } from './types';
import { msg } from './dante-messages';

/**
 * Value parsers that need no parser state. Each returns a value or a string: the Dante
 * complaint to raise (the caller adds file:line and the token).
 */
export type Parsed<T> = { ok: true; value: T } | { ok: false; detail: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (detail: string): Parsed<never> => ({ ok: false, detail });

/** strtol(s, 0): decimal, 0x hex, leading-0 octal. Negative numbers are syntax errors in Dante. */
export function parseNumber(s: string): Parsed<number> {
  if (/^0x[0-9a-f]+$/i.test(s)) return ok(parseInt(s.slice(2), 16));
  if (/^0[0-7]*$/.test(s)) return ok(parseInt(s, 8));
  if (/^[1-9][0-9]*$/.test(s)) return ok(Number(s));
  if (/^[0-9]/.test(s)) return bad(msg.notANumber());
  return bad('syntax error');
}

/** A port number or a service name (`servicePort`: getservbyname, from the injected lookups). */
export function parsePort(s: string, servicePort: (name: string) => number | undefined): Parsed<number> {
  if (/^[0-9]/.test(s)) {
    const n = parseNumber(s);
    if (!n.ok) return n;
    if (n.value > 65535) return bad(msg.numberTooLarge(n.value, 65535));
    return n;
  }
  if (/^[A-Za-z][A-Za-z0-9_.+-]*$/.test(s)) {
    const p = servicePort(s);
    return p === undefined ? bad(msg.unknownService()) : ok(p);
  }
  return bad('syntax error');
}

export const PORT_OPERATORS: Readonly<Record<string, PortOperator>> = {
  '=': 'eq', eq: 'eq',
  '!=': 'ne', ne: 'ne',
  '>=': 'ge', ge: 'ge',
  '<=': 'le', le: 'le',
  '>': 'gt', gt: 'gt',
  '<': 'lt', lt: 'lt',
};

/** `swapped`: Dante's `port A-B` complaint names the two ports the other way round (udp.portrange does not). */
export function portRange(start: number, end: number, swapped = true): Parsed<PortSpec> {
  if (end < start) return bad(swapped ? msg.badRange(start, end) : msg.badRange(end, start));
  return ok({ op: 'range', port: start, portEnd: end });
}

export function portMatches(spec: PortSpec | undefined, port: number): boolean {
  if (!spec) return true;
  switch (spec.op) {
    case 'eq': return port === spec.port;
    case 'ne': return port !== spec.port;
    case 'ge': return port >= spec.port;
    case 'le': return port <= spec.port;
    case 'gt': return port > spec.port;
    case 'lt': return port < spec.port;
    case 'range': return port >= spec.port && port <= (spec.portEnd ?? spec.port);
  }
}

/** One `logoutput:` word (common's parser, Dante syntax). Unknown syslog facilities are a warning in Dante, returned in `warning`. */
export function parseLogTarget(s: string): { target: LogTarget; warning?: string } {
  const r = parseTarget(s, 'dante');
  // Dante's syntax takes any word (a file name), so the parse cannot fail
  if (!r.ok) throw new Error(`unreachable: ${r.problem}`);
  return r.unknownFacility === undefined ? { target: r.target } : { target: r.target, warning: msg.unknownFacility(r.unknownFacility) };
}

export function ipFamily(s: string): 'IPv4' | 'IPv6' | undefined {
  return isIPv4(s) ? 'IPv4' : isIPv6(s) ? 'IPv6' : undefined;
}

export function parseYesNo(s: string): Parsed<boolean> {
  if (s === 'yes') return ok(true);
  if (s === 'no') return ok(false);
  return bad('syntax error');
}
