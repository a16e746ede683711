/**
 * The DNS message codec (RFC 1035 §4, EDNS RFC 6891, negative caching RFC 2308): pure
 * functions over Buffers, no sockets. It reads what a forwarder needs (header, question,
 * every record's TTL position, the OPT record) and makes the few answers a forwarder writes
 * itself (truncated, SERVFAIL/FORMERR, dnstc's TC reply). Malformed input throws
 * ProtocolError with a stable code (EDNS_SHORT, EDNS_NAME, EDNS_RECORD).
 */
import { ProtocolError } from '@mptcp-proxy/common';

export const HEADER_LENGTH = 12;
/** The most a DNS message over UDP may carry without EDNS (RFC 1035 §4.2.1). */
export const CLASSIC_UDP_SIZE = 512;

export const Rcode = { NoError: 0, FormErr: 1, ServFail: 2, NxDomain: 3, NotImp: 4, Refused: 5 } as const;
export const Type = { A: 1, NS: 2, CNAME: 5, SOA: 6, TXT: 16, AAAA: 28, OPT: 41 } as const;

// Header flag bits (byte 2 and byte 3).
const QR = 0x80;
const OPCODE = 0x78;
const AA = 0x04;
const TC = 0x02;
const RD = 0x01;
const RA = 0x80;
const Z_AD_CD = 0x70;

export interface Header {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  /** The Z, AD and CD bits (byte 3, mask 0x70). */
  zbits: number;
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

export function parseHeader(msg: Buffer): Header {
  if (msg.length < HEADER_LENGTH) throw new ProtocolError('EDNS_SHORT', `DNS message of ${msg.length} bytes is shorter than its header`);
  const b2 = msg[2];
  const b3 = msg[3];
  return {
    id: msg.readUInt16BE(0),
    qr: (b2 & QR) !== 0,
    opcode: (b2 & OPCODE) >> 3,
    aa: (b2 & AA) !== 0,
    tc: (b2 & TC) !== 0,
    rd: (b2 & RD) !== 0,
    ra: (b3 & RA) !== 0,
    zbits: b3 & Z_AD_CD,
    rcode: b3 & 0x0f,
    qdcount: msg.readUInt16BE(4),
    ancount: msg.readUInt16BE(6),
    nscount: msg.readUInt16BE(8),
    arcount: msg.readUInt16BE(10),
  };
}

/** The offset after the (possibly compressed) name starting at `offset`, and its text. */
function readName(msg: Buffer, offset: number): { end: number; name: string } {
  const labels: string[] = [];
  let o = offset;
  let end = -1;
  let jumps = 0;
  let length = 0;
  for (;;) {
    if (o >= msg.length) throw new ProtocolError('EDNS_NAME', 'DNS name runs past the message');
    const len = msg[o];
    if (len === 0) {
      if (end < 0) end = o + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (o + 1 >= msg.length) throw new ProtocolError('EDNS_NAME', 'DNS name pointer runs past the message');
      if (end < 0) end = o + 2;
      // RFC 1035 §4.1.4: pointers go to an earlier name; a loop is malformed.
      if (++jumps > 64) throw new ProtocolError('EDNS_NAME', 'DNS name compression loop');
      o = ((len & 0x3f) << 8) | msg[o + 1];
      continue;
    }
    if ((len & 0xc0) !== 0) throw new ProtocolError('EDNS_NAME', `DNS label type 0x${(len & 0xc0).toString(16)} is not supported`);
    if (o + 1 + len > msg.length) throw new ProtocolError('EDNS_NAME', 'DNS label runs past the message');
    length += len + 1;
    if (length > 255) throw new ProtocolError('EDNS_NAME', 'DNS name longer than 255 bytes');
    labels.push(msg.toString('latin1', o + 1, o + 1 + len));
    o += 1 + len;
  }
  return { end, name: labels.length === 0 ? '.' : `${labels.join('.')}.` };
}

export interface Question {
  /** Lower-cased, with the trailing dot ('.' for the root). */
  name: string;
  type: number;
  class: number;
  /** Offset just after the question. */
  end: number;
}

/** The first question (a forwarder handles QDCOUNT = 1, like every resolver in use). */
export function parseQuestion(msg: Buffer): Question {
  const h = parseHeader(msg);
  if (h.qdcount < 1) throw new ProtocolError('EDNS_RECORD', 'DNS message has no question');
  const { end, name } = readName(msg, HEADER_LENGTH);
  if (end + 4 > msg.length) throw new ProtocolError('EDNS_SHORT', 'DNS question runs past the message');
  return { name: name.toLowerCase(), type: msg.readUInt16BE(end), class: msg.readUInt16BE(end + 2), end: end + 4 };
}

export type Section = 'answer' | 'authority' | 'additional';

export interface RecordRef {
  section: Section;
  type: number;
  class: number;
  /** The record's TTL (for OPT: the extended RCODE, version and flags). */
  ttl: number;
  /** Offset of the 4-byte TTL field. */
  ttlOffset: number;
  rdataOffset: number;
  rdlength: number;
}

/** Every resource record after the question section, in order; throws on a malformed message. */
export function records(msg: Buffer): RecordRef[] {
  const h = parseHeader(msg);
  let o = HEADER_LENGTH;
  for (let i = 0; i < h.qdcount; i++) {
    o = readName(msg, o).end + 4;
    if (o > msg.length) throw new ProtocolError('EDNS_SHORT', 'DNS question runs past the message');
  }
  const out: RecordRef[] = [];
  const counts: Array<[Section, number]> = [['answer', h.ancount], ['authority', h.nscount], ['additional', h.arcount]];
  for (const [section, n] of counts) {
    for (let i = 0; i < n; i++) {
      o = readName(msg, o).end;
      if (o + 10 > msg.length) throw new ProtocolError('EDNS_RECORD', `DNS ${section} record runs past the message`);
      const rdlength = msg.readUInt16BE(o + 8);
      if (o + 10 + rdlength > msg.length) throw new ProtocolError('EDNS_RECORD', `DNS ${section} record data runs past the message`);
      out.push({
        section,
        type: msg.readUInt16BE(o),
        class: msg.readUInt16BE(o + 2),
        ttl: msg.readUInt32BE(o + 4),
        ttlOffset: o + 4,
        rdataOffset: o + 10,
        rdlength,
      });
      o += 10 + rdlength;
    }
  }
  return out;
}

export interface Edns {
  /** The requestor's UDP payload size (RFC 6891 §6.2.3; values below 512 count as 512). */
  udpSize: number;
  version: number;
  /** The DO bit (DNSSEC OK). */
  dnssecOk: boolean;
}

/** The OPT record of a message, or undefined when it has none. */
export function ednsOf(msg: Buffer, refs = records(msg)): Edns | undefined {
  const opt = refs.find((r) => r.section === 'additional' && r.type === Type.OPT);
  if (!opt) return undefined;
  return { udpSize: Math.max(CLASSIC_UDP_SIZE, opt.class), version: (opt.ttl >>> 16) & 0xff, dnssecOk: (opt.ttl & 0x8000) !== 0 };
}

/** The largest UDP answer this query's sender accepts: its EDNS size, else 512. */
export function udpLimit(query: Buffer): number {
  return ednsOf(query)?.udpSize ?? CLASSIC_UDP_SIZE;
}

/** A copy of msg with another ID. */
export function withId(msg: Buffer, id: number): Buffer {
  const out = Buffer.from(msg);
  out.writeUInt16BE(id, 0);
  return out;
}

/** The OPT record bytes of msg (its name is the root, one zero byte), if any. */
function optBytes(msg: Buffer, refs: RecordRef[]): Buffer | undefined {
  const opt = refs.find((r) => r.section === 'additional' && r.type === Type.OPT);
  if (!opt) return undefined;
  // OPT's owner is the root: one zero byte before TYPE.
  return msg.subarray(opt.ttlOffset - 4 - 1, opt.rdataOffset + opt.rdlength);
}

/**
 * An answer too large for the client's UDP limit, as a resolver sends it (RFC 2181 §9,
 * RFC 6891 §7): the header with TC set, the question, and the OPT record; no records.
 * The client then asks again over TCP.
 */
export function truncated(answer: Buffer): Buffer {
  const q = parseQuestion(answer);
  const refs = records(answer);
  const opt = optBytes(answer, refs);
  const head = Buffer.from(answer.subarray(0, q.end));
  head[2] |= TC;
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(0, 6);
  head.writeUInt16BE(0, 8);
  head.writeUInt16BE(opt ? 1 : 0, 10);
  return opt ? Buffer.concat([head, opt]) : head;
}

/**
 * An error answer to a query (SERVFAIL when the tunnel failed, FORMERR for a query we cannot
 * read): its ID, opcode and RD, QR set, the question when it could be read.
 */
export function errorAnswer(query: Buffer, rcode: number): Buffer {
  let end = HEADER_LENGTH;
  let qd = 0;
  try {
    end = parseQuestion(query).end;
    qd = 1;
  } catch {
    // no readable question: the header alone
  }
  const out = Buffer.from(query.subarray(0, end));
  out[2] = (out[2] & (OPCODE | RD)) | QR;
  out[3] = RA | (rcode & 0x0f);
  out.writeUInt16BE(qd, 4);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}

/**
 * redsocks 0.5's dnstc: a query (QR clear, Z/AD/CD clear, some question, no other records)
 * comes back as itself with QR and TC set, so the client retries over TCP; anything else
 * gets no answer (null). Messages of 12 bytes or less are "incomplete" (also null).
 */
export function dnstcReply(query: Buffer): { reply: Buffer | null; verdict: 'truncated' | 'incomplete' | 'malformed' } {
  if (query.length <= HEADER_LENGTH) return { reply: null, verdict: 'incomplete' };
  const h = parseHeader(query);
  const isQuery = !h.qr && h.zbits === 0 && h.qdcount > 0 && h.ancount === 0 && h.nscount === 0 && h.arcount === 0;
  if (!isQuery) return { reply: null, verdict: 'malformed' };
  const reply = Buffer.from(query);
  reply[2] |= QR | TC;
  return { reply, verdict: 'truncated' };
}

/**
 * How long an answer may be cached, in seconds (RFC 2181 §5.2, RFC 2308 §5): the smallest TTL
 * of its answer and authority records; for a negative answer (NXDOMAIN, or NOERROR without
 * answers) the SOA's TTL capped by its MINIMUM field. 0 = do not cache (no SOA on a negative
 * answer, truncated, or another RCODE).
 */
export function cacheTtl(answer: Buffer): number {
  const h = parseHeader(answer);
  if (h.tc || (h.rcode !== Rcode.NoError && h.rcode !== Rcode.NxDomain)) return 0;
  const refs = records(answer).filter((r) => r.section !== 'additional');
  const negative = h.rcode === Rcode.NxDomain || !refs.some((r) => r.section === 'answer');
  if (negative) {
    const soa = refs.find((r) => r.section === 'authority' && r.type === Type.SOA);
    if (!soa || soa.rdlength < 22) return 0;
    // SOA RDATA: MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM; MINIMUM is its last 4 bytes.
    const minimum = answer.readUInt32BE(soa.rdataOffset + soa.rdlength - 4);
    return Math.min(soa.ttl, minimum);
  }
  return refs.reduce((m, r) => Math.min(m, r.ttl), 0xffffffff);
}

/** A copy of a cached answer with every TTL (except OPT's) reduced by `elapsed` seconds (not below 0). */
export function agedAnswer(answer: Buffer, elapsed: number): Buffer {
  const out = Buffer.from(answer);
  for (const r of records(answer)) {
    if (r.type === Type.OPT) continue;
    out.writeUInt32BE(Math.max(0, r.ttl - elapsed), r.ttlOffset);
  }
  return out;
}

/** Builds a query (tests, benches, the path checks): one question, RD set, optional EDNS OPT. */
export function buildQuery(id: number, name: string, type: number, opts: { edns?: number; dnssecOk?: boolean } = {}): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l.length > 0);
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
  const head = Buffer.alloc(HEADER_LENGTH);
  head.writeUInt16BE(id, 0);
  head[2] = RD;
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(opts.edns !== undefined ? 1 : 0, 10);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(type, 0);
  q.writeUInt16BE(1, 2);
  const parts = [head, qname, q];
  if (opts.edns !== undefined) {
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(Type.OPT, 1);
    opt.writeUInt16BE(opts.edns, 3);
    opt.writeUInt32BE(opts.dnssecOk ? 0x8000 : 0, 5);
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

/**
 * A cached answer given to another query for the same name: that query's ID and question bytes
 * (the name may differ in case only, e.g. 0x20 randomisation, so every offset stays the same).
 */
export function answerFor(query: Buffer, cached: Buffer): Buffer {
  const out = Buffer.from(cached);
  const qEnd = parseQuestion(query).end;
  if (parseQuestion(cached).end === qEnd) query.copy(out, HEADER_LENGTH, HEADER_LENGTH, qEnd);
  out.writeUInt16BE(query.readUInt16BE(0), 0);
  return out;
}

/** The cache key of a query: name, type, class and the bits that change the answer (DO, CD). */
export function cacheKey(query: Buffer): string {
  const q = parseQuestion(query);
  const cd = (query[3] & 0x10) !== 0;
  const edns = ednsOf(query);
  return `${q.name}|${q.type}|${q.class}|${edns?.dnssecOk ? 'do' : ''}|${cd ? 'cd' : ''}|${edns ? 'e' : ''}`;
}
