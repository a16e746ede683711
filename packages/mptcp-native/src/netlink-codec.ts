/**
 * Netlink messages as bytes, pure (no sockets): the nlmsghdr framing, attributes, the
 * rtnetlink messages `paths = auto` reads (links, addresses, routes, rules) and the generic
 * netlink ones (family lookup, MPTCP endpoints). Layouts are the kernel's UAPI
 * (linux/netlink.h, rtnetlink.h, if_addr.h, fib_rules.h, genetlink.h, mptcp_pm.h); see
 * docs/ARCHITECTURE.md, "paths = auto". Host byte order is little-endian on every target
 * this project ships (x64, arm64); addresses are in network order.
 */
import * as net from 'node:net';

export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3 } as const;
export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  /** On an NLMSG_ERROR: the original payload is left out (NETLINK_CAP_ACK). */
  CAPPED: 0x100,
  /** On an NLMSG_ERROR: extended-ack attributes follow. */
  ACK_TLVS: 0x200,
} as const;
export const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

export const NETLINK_ROUTE = 0;
export const NETLINK_GENERIC = 16;

export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
  NEWRULE: 32,
  DELRULE: 33,
  GETRULE: 34,
} as const;
/** Multicast groups (NETLINK_ADD_MEMBERSHIP numbers) of rtnetlink. */
export const RTNLGRP = { LINK: 1, IPV4_IFADDR: 5, IPV4_ROUTE: 7, IPV4_RULE: 8, IPV6_IFADDR: 9, IPV6_ROUTE: 11, IPV6_RULE: 19 } as const;
export const IFF = { UP: 0x1, RUNNING: 0x40, LOWER_UP: 0x10000 } as const;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const RT_TABLE_MAIN = 254;
export const RTN_UNICAST = 1;
export const FR_ACT_TO_TBL = 1;

export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR = { FAMILY_ID: 1, FAMILY_NAME: 2, MCAST_GROUPS: 7 } as const;
const CTRL_ATTR_MCAST_GRP = { NAME: 1, ID: 2 } as const;

export const MPTCP_PM_NAME = 'mptcp_pm';
export const MPTCP_PM_VER = 1;
export const MPTCP_PM_CMD = { ADD_ADDR: 1, DEL_ADDR: 2, GET_ADDR: 3, GET_LIMITS: 6 } as const;
const MPTCP_PM_ATTR_ADDR = 1;
const MPTCP_PM_ATTR = { RCV_ADD_ADDRS: 2, SUBFLOWS: 3 } as const;
const ADDR_ATTR = { FAMILY: 1, ID: 2, ADDR4: 3, ADDR6: 4, PORT: 5, FLAGS: 6, IF_IDX: 7 } as const;
export const MPTCP_PM_ADDR_FLAG = { SIGNAL: 1, SUBFLOW: 2, BACKUP: 4, FULLMESH: 8, IMPLICIT: 16 } as const;

const align4 = (n: number): number => (n + 3) & ~3;

// ---- framing ----

export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Everything after the 16-byte header, up to nlmsg_len. */
  payload: Buffer;
}

export interface Attr {
  type: number;
  /** Raw value, or nested attributes (encoded with NLA_F_NESTED). */
  value: Buffer | Attr[];
}

export function encodeAttrs(attrs: readonly Attr[]): Buffer {
  const parts: Buffer[] = [];
  for (const a of attrs) {
    const nested = Array.isArray(a.value);
    const body = nested ? encodeAttrs(a.value as Attr[]) : (a.value as Buffer);
    const head = Buffer.alloc(4);
    head.writeUInt16LE(4 + body.length, 0);
    head.writeUInt16LE(a.type | (nested ? NLA_F_NESTED : 0), 2);
    parts.push(head, body, Buffer.alloc(align4(body.length) - body.length));
  }
  return Buffer.concat(parts);
}

/** The attributes of buf, by type (flags masked off); a later duplicate wins. Truncation throws. */
export function decodeAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (const [type, value] of attrList(buf)) out.set(type, value);
  return out;
}

/** The attributes of buf in order (for arrays such as CTRL_ATTR_MCAST_GROUPS). */
export function attrList(buf: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    if (len < 4 || off + len > buf.length) throw new RangeError(`netlink attribute ${type} at ${off}: length ${len} overruns ${buf.length}`);
    out.push([type, buf.subarray(off + 4, off + len)]);
    off += align4(len);
  }
  return out;
}

export function encodeMessage(m: { type: number; flags: number; seq: number; pid?: number; body: Buffer }): Buffer {
  const len = 16 + m.body.length;
  const out = Buffer.alloc(align4(len));
  out.writeUInt32LE(len, 0);
  out.writeUInt16LE(m.type, 4);
  out.writeUInt16LE(m.flags, 6);
  out.writeUInt32LE(m.seq >>> 0, 8);
  out.writeUInt32LE((m.pid ?? 0) >>> 0, 12);
  m.body.copy(out, 16);
  return out;
}

/** The messages of one datagram. A truncated or overrunning header throws. */
export function decodeMessages(datagram: Buffer): NlMessage[] {
  const out: NlMessage[] = [];
  let off = 0;
  while (off + 16 <= datagram.length) {
    const len = datagram.readUInt32LE(off);
    if (len < 16 || off + len > datagram.length) throw new RangeError(`netlink message at ${off}: length ${len} overruns ${datagram.length}`);
    out.push({
      type: datagram.readUInt16LE(off + 4),
      flags: datagram.readUInt16LE(off + 6),
      seq: datagram.readUInt32LE(off + 8),
      pid: datagram.readUInt32LE(off + 12),
      payload: datagram.subarray(off + 16, off + len),
    });
    off += align4(len);
  }
  return out;
}

export interface NlError {
  /** 0 for an ACK, else a positive errno. */
  errno: number;
  /** Sequence number of the request it answers. */
  seq: number;
  /** The kernel's extended-ack message (NLMSGERR_ATTR_MSG), when it sent one. */
  message?: string;
}

/** An NLMSG_ERROR payload: -errno, the request's header (and its payload unless capped), TLVs. */
export function decodeError(m: NlMessage): NlError {
  if (m.payload.length < 20) throw new RangeError(`netlink error message of ${m.payload.length} bytes`);
  const errno = -m.payload.readInt32LE(0) || 0;
  const seq = m.payload.readUInt32LE(4 + 8);
  const out: NlError = { errno, seq };
  if (m.flags & NLM_F.ACK_TLVS) {
    const origLen = m.payload.readUInt32LE(4);
    const tlvStart = 4 + (m.flags & NLM_F.CAPPED ? 16 : align4(origLen));
    if (tlvStart <= m.payload.length) {
      const msg = decodeAttrs(m.payload.subarray(tlvStart)).get(1 /* NLMSGERR_ATTR_MSG */);
      if (msg) out.message = cstring(msg);
    }
  }
  return out;
}

function cstring(b: Buffer): string {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
}

function addressOf(family: number, b: Buffer | undefined): string | undefined {
  if (!b) return undefined;
  if (family === AF_INET && b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (family === AF_INET6 && b.length === 16) {
    const words: number[] = [];
    for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i));
    return compress6(words);
  }
  return undefined;
}

function addressBytes(address: string): { family: number; bytes: Buffer } {
  const v = net.isIP(address);
  if (v === 4) return { family: AF_INET, bytes: Buffer.from(address.split('.').map(Number)) };
  if (v === 6) {
    const full = expand6(address);
    return { family: AF_INET6, bytes: Buffer.from(full.map((w) => [w >> 8, w & 0xff]).flat()) };
  }
  throw new TypeError(`<${address}> is not an IP address`);
}

/** RFC 5952 text: the longest run of two or more zero words becomes `::`. */
function compress6(words: number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function expand6(a: string): number[] {
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':').map((x) => parseInt(x, 16)) : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':').map((x) => parseInt(x, 16)) : [];
  return [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
}

const u32 = (b: Buffer | undefined): number | undefined => (b && b.length >= 4 ? b.readUInt32LE(0) : undefined);
const u16 = (b: Buffer | undefined): number | undefined => (b && b.length >= 2 ? b.readUInt16LE(0) : undefined);

// ---- rtnetlink ----

/** A dump request of links, addresses, routes or rules of every family (one zeroed header). */
export function encodeRtDump(type: number, seq: number): Buffer {
  const headerLen = type === RTM.GETLINK ? 16 : type === RTM.GETADDR ? 8 : 12;
  return encodeMessage({ type, flags: NLM_F.REQUEST | NLM_F.DUMP, seq, body: Buffer.alloc(headerLen) });
}

export interface LinkInfo {
  index: number;
  name: string;
  flags: number;
  up: boolean;
}

export function decodeLink(m: NlMessage): LinkInfo {
  if (m.payload.length < 16) throw new RangeError('short ifinfomsg');
  const index = m.payload.readInt32LE(4);
  const flags = m.payload.readUInt32LE(8);
  const attrs = decodeAttrs(m.payload.subarray(16));
  const name = attrs.get(3 /* IFLA_IFNAME */);
  return {
    index,
    name: name ? cstring(name) : `if${index}`,
    flags,
    up: m.type !== RTM.DELLINK && (flags & IFF.UP) !== 0 && (flags & IFF.RUNNING) !== 0,
  };
}

export interface AddrInfo {
  family: number;
  index: number;
  prefixLen: number;
  address: string;
}

export function decodeAddr(m: NlMessage): AddrInfo | undefined {
  if (m.payload.length < 8) throw new RangeError('short ifaddrmsg');
  const family = m.payload[0]!;
  const prefixLen = m.payload[1]!;
  const index = m.payload.readUInt32LE(4);
  const attrs = decodeAttrs(m.payload.subarray(8));
  // IFA_LOCAL is the interface's own address on point-to-point links (PPPoE); IFA_ADDRESS the peer there.
  const address = addressOf(family, attrs.get(2) ?? attrs.get(1));
  return address ? { family, index, prefixLen, address } : undefined;
}

export interface RouteInfo {
  family: number;
  table: number;
  dstLen: number;
  dst?: string;
  type: number;
  oif?: number;
  gateway?: string;
  prefsrc?: string;
  priority: number;
}

export function decodeRoute(m: NlMessage): RouteInfo {
  if (m.payload.length < 12) throw new RangeError('short rtmsg');
  const p = m.payload;
  const family = p[0]!;
  const attrs = decodeAttrs(p.subarray(12));
  const r: RouteInfo = {
    family,
    dstLen: p[1]!,
    table: u32(attrs.get(15 /* RTA_TABLE */)) ?? p[4]!,
    type: p[7]!,
    priority: u32(attrs.get(6 /* RTA_PRIORITY */)) ?? 0,
  };
  const dst = addressOf(family, attrs.get(1));
  if (dst) r.dst = dst;
  const oif = u32(attrs.get(4));
  if (oif !== undefined) r.oif = oif;
  const gw = addressOf(family, attrs.get(5));
  if (gw) r.gateway = gw;
  const pref = addressOf(family, attrs.get(7));
  if (pref) r.prefsrc = pref;
  return r;
}

/** RTM_NEWROUTE of a unicast default route `default via GATEWAY dev OIF table TABLE`. */
export function encodeDefaultRoute(seq: number, r: { table: number; gateway?: string; oif: number; family?: number }): Buffer {
  const family = r.family ?? AF_INET;
  const h = Buffer.alloc(12);
  h[0] = family;
  h[4] = r.table < 256 ? r.table : 0; // RT_TABLE_UNSPEC + RTA_TABLE above 255
  h[5] = 3; // RTPROT_BOOT, what `ip route add` uses
  h[6] = r.gateway ? 0 : 253; // RT_SCOPE_UNIVERSE via a gateway, RT_SCOPE_LINK without
  h[7] = RTN_UNICAST;
  const attrs: Attr[] = [{ type: 15, value: le32(r.table) }, { type: 4, value: le32(r.oif) }];
  if (r.gateway) attrs.push({ type: 5, value: addressBytes(r.gateway).bytes });
  return encodeMessage({
    type: RTM.NEWROUTE,
    flags: NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL,
    seq,
    body: Buffer.concat([h, encodeAttrs(attrs)]),
  });
}

function le32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

export interface RuleInfo {
  family: number;
  table: number;
  action: number;
  srcLen: number;
  src?: string;
  fwmark?: number;
  priority: number;
}

export function decodeRule(m: NlMessage): RuleInfo {
  if (m.payload.length < 12) throw new RangeError('short fib_rule_hdr');
  const p = m.payload;
  const family = p[0]!;
  const attrs = decodeAttrs(p.subarray(12));
  const r: RuleInfo = {
    family,
    srcLen: p[2]!,
    table: u32(attrs.get(15 /* FRA_TABLE */)) ?? p[4]!,
    action: p[7]!,
    priority: u32(attrs.get(6 /* FRA_PRIORITY */)) ?? 0,
  };
  const src = addressOf(family, attrs.get(2 /* FRA_SRC */));
  if (src) r.src = src;
  const mark = u32(attrs.get(10 /* FRA_FWMARK */));
  if (mark !== undefined) r.fwmark = mark;
  return r;
}

/** RTM_NEWRULE / RTM_DELRULE of `from SRC/LEN lookup TABLE priority PRIO` (ack requested). */
export function encodeRule(type: number, seq: number, r: { src: string; srcLen: number; table: number; priority?: number }): Buffer {
  const { family, bytes } = addressBytes(r.src);
  const h = Buffer.alloc(12);
  h[0] = family;
  h[2] = r.srcLen;
  h[4] = r.table < 256 ? r.table : 0;
  h[7] = FR_ACT_TO_TBL;
  const attrs: Attr[] = [{ type: 2 /* FRA_SRC */, value: bytes }, { type: 15 /* FRA_TABLE */, value: le32(r.table) }];
  if (r.priority !== undefined) attrs.push({ type: 6 /* FRA_PRIORITY */, value: le32(r.priority) });
  const flags = NLM_F.REQUEST | NLM_F.ACK | (type === RTM.NEWRULE ? NLM_F.CREATE | NLM_F.EXCL : 0);
  return encodeMessage({ type, flags, seq, body: Buffer.concat([h, encodeAttrs(attrs)]) });
}

// ---- generic netlink ----

export function encodeGenl(m: { family: number; cmd: number; version: number; flags: number; seq: number; attrs: readonly Attr[] }): Buffer {
  const h = Buffer.from([m.cmd, m.version, 0, 0]);
  return encodeMessage({ type: m.family, flags: m.flags, seq: m.seq, body: Buffer.concat([h, encodeAttrs(m.attrs)]) });
}

/** The attributes of a generic netlink message (after its 4-byte genlmsghdr), and its command. */
export function decodeGenl(m: NlMessage): { cmd: number; attrs: Map<number, Buffer> } {
  if (m.payload.length < 4) throw new RangeError('short genlmsghdr');
  return { cmd: m.payload[0]!, attrs: decodeAttrs(m.payload.subarray(4)) };
}

export function encodeGetFamily(name: string, seq: number): Buffer {
  return encodeGenl({
    family: GENL_ID_CTRL,
    cmd: CTRL_CMD_GETFAMILY,
    version: 1,
    flags: NLM_F.REQUEST,
    seq,
    attrs: [{ type: CTRL_ATTR.FAMILY_NAME, value: Buffer.from(`${name}\0`) }],
  });
}

export interface GenlFamily {
  id: number;
  name: string;
  groups: Map<string, number>;
}

export function decodeFamily(m: NlMessage): GenlFamily {
  const { attrs } = decodeGenl(m);
  const id = u16(attrs.get(CTRL_ATTR.FAMILY_ID));
  if (id === undefined) throw new RangeError('CTRL_CMD_NEWFAMILY without a family id');
  const name = attrs.get(CTRL_ATTR.FAMILY_NAME);
  const groups = new Map<string, number>();
  const list = attrs.get(CTRL_ATTR.MCAST_GROUPS);
  if (list) {
    for (const [, g] of attrList(list)) {
      const ga = decodeAttrs(g);
      const gname = ga.get(CTRL_ATTR_MCAST_GRP.NAME);
      const gid = u32(ga.get(CTRL_ATTR_MCAST_GRP.ID));
      if (gname && gid !== undefined) groups.set(cstring(gname), gid);
    }
  }
  return { id, name: name ? cstring(name) : '', groups };
}

/** One in-kernel path manager endpoint (`ip mptcp endpoint show`). */
export interface MptcpEndpoint {
  id: number;
  address: string;
  flags: number;
  /** 0 when the endpoint names no device. */
  ifindex: number;
  port?: number;
}

export function encodeEndpointDump(family: number, seq: number): Buffer {
  return encodeGenl({ family, cmd: MPTCP_PM_CMD.GET_ADDR, version: MPTCP_PM_VER, flags: NLM_F.REQUEST | NLM_F.DUMP, seq, attrs: [] });
}

export function decodeEndpoint(m: NlMessage): MptcpEndpoint | undefined {
  const nested = decodeGenl(m).attrs.get(MPTCP_PM_ATTR_ADDR);
  if (!nested) return undefined;
  const a = decodeAttrs(nested);
  const fam = u16(a.get(ADDR_ATTR.FAMILY)) ?? AF_INET;
  const address = addressOf(fam, a.get(fam === AF_INET ? ADDR_ATTR.ADDR4 : ADDR_ATTR.ADDR6));
  const id = a.get(ADDR_ATTR.ID)?.[0];
  if (!address || id === undefined) return undefined;
  const ep: MptcpEndpoint = {
    id,
    address,
    flags: u32(a.get(ADDR_ATTR.FLAGS)) ?? 0,
    ifindex: a.get(ADDR_ATTR.IF_IDX)?.readInt32LE(0) ?? 0,
  };
  const port = a.get(ADDR_ATTR.PORT);
  if (port && port.length >= 2) {
    const n = port.readUInt16LE(0);
    if (n !== 0) ep.port = n;
  }
  return ep;
}

function endpointAttr(ep: { id?: number; address?: string; flags?: number; ifindex?: number }): Attr {
  const inner: Attr[] = [];
  if (ep.address !== undefined) {
    const { family, bytes } = addressBytes(ep.address);
    inner.push({ type: ADDR_ATTR.FAMILY, value: Buffer.from([family, 0]) });
    inner.push({ type: family === AF_INET ? ADDR_ATTR.ADDR4 : ADDR_ATTR.ADDR6, value: bytes });
  }
  if (ep.id !== undefined) inner.push({ type: ADDR_ATTR.ID, value: Buffer.from([ep.id]) });
  if (ep.flags !== undefined) inner.push({ type: ADDR_ATTR.FLAGS, value: le32(ep.flags) });
  if (ep.ifindex) inner.push({ type: ADDR_ATTR.IF_IDX, value: le32(ep.ifindex) });
  return { type: MPTCP_PM_ATTR_ADDR, value: inner };
}

/** `ip mptcp endpoint add ADDRESS id ID dev IF FLAGS` (ack requested). */
export function encodeEndpointAdd(family: number, seq: number, ep: MptcpEndpoint): Buffer {
  return encodeGenl({ family, cmd: MPTCP_PM_CMD.ADD_ADDR, version: MPTCP_PM_VER, flags: NLM_F.REQUEST | NLM_F.ACK, seq, attrs: [endpointAttr(ep)] });
}

/**
 * `ip mptcp endpoint del id ID` (ack requested). For id 0 (the address of the connections'
 * initial subflows, which has no endpoint) the kernel needs the address too.
 */
export function encodeEndpointDel(family: number, seq: number, ep: { id: number; address?: string }): Buffer {
  return encodeGenl({ family, cmd: MPTCP_PM_CMD.DEL_ADDR, version: MPTCP_PM_VER, flags: NLM_F.REQUEST | NLM_F.ACK, seq, attrs: [endpointAttr(ep)] });
}

export function encodeGetLimits(family: number, seq: number): Buffer {
  return encodeGenl({ family, cmd: MPTCP_PM_CMD.GET_LIMITS, version: MPTCP_PM_VER, flags: NLM_F.REQUEST, seq, attrs: [] });
}

export function decodeLimits(m: NlMessage): { subflows: number; addAddrAccepted: number } {
  const { attrs } = decodeGenl(m);
  return { subflows: u32(attrs.get(MPTCP_PM_ATTR.SUBFLOWS)) ?? 0, addAddrAccepted: u32(attrs.get(MPTCP_PM_ATTR.RCV_ADD_ADDRS)) ?? 0 };
}
