import { isIPv4, isIPv6 } from 'node:net';

/** Address bytes (4 or 16), or undefined if `s` is not an IP literal. IPv4-mapped IPv6 → 4 bytes. */
export function ipBytes(s: string): number[] | undefined {
  if (isIPv4(s)) return s.split('.').map(Number);
  if (!isIPv6(s)) return undefined;
  const zone = s.indexOf('%');
  let text = zone >= 0 ? s.slice(0, zone) : s;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const maybeV4 = text.slice(lastColon + 1);
  if (isIPv4(maybeV4)) {
    tail = maybeV4.split('.').map(Number);
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = text.split('::');
  const parse = (part: string | undefined): number[] =>
    part ? part.split(':').filter((g) => g !== '').map((g) => parseInt(g, 16)) : [];
  const h = parse(head);
  const r = parse(rest);
  const groups = rest === undefined ? h : [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  const bytes: number[] = [];
  for (const g of groups) bytes.push(g >> 8, g & 0xff);
  if (tail.length) bytes.splice(12, 4, ...tail);
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}

/** Is `addr` inside `net/prefix`? Families must agree (after unmapping ::ffff:a.b.c.d). */
export function cidrContains(net: string, prefix: number, addr: string): boolean {
  const a = ipBytes(addr);
  return a !== undefined && bytesInCidr(ruleNetBytes(net), prefix, a);
}

/** The same test on bytes already parsed (the matcher parses each endpoint once per match). */
export function bytesInCidr(n: readonly number[] | undefined, prefix: number, a: readonly number[]): boolean {
  if (!n || n.length !== a.length) return false;
  let bits = prefix;
  for (let i = 0; i < n.length && bits > 0; i++) {
    const take = Math.min(8, bits);
    const mask = (0xff << (8 - take)) & 0xff;
    if ((n[i] & mask) !== (a[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

// Rule and interface addresses only (never a client's): this stays as small as the configs loaded.
const netCache = new Map<string, number[] | undefined>();

/** ipBytes() of a rule's network or an interface address, parsed once per distinct string. */
export function ruleNetBytes(net: string): number[] | undefined {
  let b = netCache.get(net);
  if (b === undefined && !netCache.has(net)) {
    b = ipBytes(net);
    netCache.set(net, b);
  }
  return b;
}

/** Strip `::ffff:` from IPv4-mapped addresses, as Node reports them on dual-stack sockets. */
export function unmapIPv4(addr: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  return m ? m[1] : addr;
}
