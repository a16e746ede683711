/** The DNS codec, byte by byte (hand-assembled messages, RFC 1035 layout). */
import { ProtocolError } from '@mptcp-proxy/common';
import {
  agedAnswer, answerFor, buildQuery, cacheKey, cacheTtl, dnstcReply, ednsOf, errorAnswer, parseHeader, parseQuestion,
  records, truncated, udpLimit, withId, Rcode, Type,
} from '../../src/dns/message';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// "Www.Lab." A IN, id 0x1234, RD
const QNAME = '03 577777 03 4c6162 00';
const QUERY = hex(`1234 0100 0001 0000 0000 0000 ${QNAME} 0001 0001`);
// the same with an OPT record: UDP size 1232, DO set
const QUERY_EDNS = hex(`1234 0100 0001 0000 0000 0001 ${QNAME} 0001 0001  00 0029 04d0 00008000 0000`);
// answer: two A records (TTL 300 and 60) by compression pointer c00c, plus OPT 4096
const ANSWER = hex(`1234 8180 0001 0002 0000 0001 ${QNAME} 0001 0001
  c00c 0001 0001 0000012c 0004 0a000001
  c00c 0001 0001 0000003c 0004 0a000002
  00 0029 1000 00000000 0000`);
// NXDOMAIN with an SOA (TTL 900, MINIMUM 120) in the authority section
const SOA_RDATA = '02 6e73 c010  04 726f6f74 c010  00000001 00000e10 00000258 00093a80 00000078';
const NXDOMAIN = hex(`1234 8183 0001 0000 0001 0000 ${QNAME} 0001 0001
  c010 0006 0001 00000384 ${(SOA_RDATA.replace(/\s+/g, '').length / 2).toString(16).padStart(4, '0')} ${SOA_RDATA}`);

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProtocolError) return e.code;
    throw e;
  }
  return undefined;
}

test('header and question', () => {
  expect(parseHeader(QUERY)).toEqual({
    id: 0x1234, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, zbits: 0, rcode: 0,
    qdcount: 1, ancount: 0, nscount: 0, arcount: 0,
  });
  expect(parseQuestion(QUERY)).toEqual({ name: 'www.lab.', type: Type.A, class: 1, end: QUERY.length });
  expect(parseHeader(ANSWER)).toMatchObject({ qr: true, rd: true, ra: true, ancount: 2, arcount: 1 });
  expect(parseQuestion(hex('0000 0000 0001 0000 0000 0000 00 0002 0001'))).toMatchObject({ name: '.', type: Type.NS });
});

test('records: TTL offsets through compression pointers, and the OPT record', () => {
  const r = records(ANSWER);
  expect(r.map((x) => [x.section, x.type, x.ttl, x.rdlength])).toEqual([
    ['answer', Type.A, 300, 4],
    ['answer', Type.A, 60, 4],
    ['additional', Type.OPT, 0, 0],
  ]);
  expect(ANSWER.readUInt32BE(r[0]!.ttlOffset)).toBe(300);
  expect(ANSWER.subarray(r[1]!.rdataOffset, r[1]!.rdataOffset + 4)).toEqual(hex('0a000002'));
  expect(ednsOf(ANSWER)).toEqual({ udpSize: 4096, version: 0, dnssecOk: false });
  expect(ednsOf(QUERY_EDNS)).toEqual({ udpSize: 1232, version: 0, dnssecOk: true });
  expect(ednsOf(QUERY)).toBeUndefined();
  expect(udpLimit(QUERY)).toBe(512);
  expect(udpLimit(QUERY_EDNS)).toBe(1232);
  // an OPT that asks for less than 512 still means 512 (RFC 6891 6.2.5)
  expect(udpLimit(hex(`0001 0100 0001 0000 0000 0001 ${QNAME} 0001 0001 00 0029 0100 00000000 0000`))).toBe(512);
});

test('malformed messages throw stable codes', () => {
  expect(code(() => parseHeader(hex('1234 0100 0001')))).toBe('EDNS_SHORT');
  // a pointer to itself
  expect(code(() => parseQuestion(hex('1234 0100 0001 0000 0000 0000 c00c 0001 0001')))).toBe('EDNS_NAME');
  // a label running past the end
  expect(code(() => parseQuestion(hex('1234 0100 0001 0000 0000 0000 05 6162')))).toBe('EDNS_NAME');
  // extended label type 0x40
  expect(code(() => parseQuestion(hex('1234 0100 0001 0000 0000 0000 41 00 0001 0001')))).toBe('EDNS_NAME');
  // a name of 256 bytes
  const long = Array.from({ length: 5 }, () => `3f${'61'.repeat(63)}`).join('');
  expect(code(() => parseQuestion(hex(`1234 0100 0001 0000 0000 0000 ${long} 00 0001 0001`)))).toBe('EDNS_NAME');
  // RDLENGTH past the end
  expect(code(() => records(hex(`1234 8180 0001 0001 0000 0000 ${QNAME} 0001 0001 c00c 0001 0001 0000012c 0010 0a000001`)))).toBe('EDNS_RECORD');
  // no question
  expect(code(() => parseQuestion(hex('1234 0100 0000 0000 0000 0000')))).toBe('EDNS_RECORD');
});

test('truncated(): header with TC, the question and the OPT record, nothing else', () => {
  expect(truncated(ANSWER)).toEqual(hex(`1234 8380 0001 0000 0000 0001 ${QNAME} 0001 0001 00 0029 1000 00000000 0000`));
  const noOpt = hex(`1234 8180 0001 0001 0000 0000 ${QNAME} 0001 0001 c00c 0001 0001 0000012c 0004 0a000001`);
  expect(truncated(noOpt)).toEqual(hex(`1234 8380 0001 0000 0000 0000 ${QNAME} 0001 0001`));
});

test('errorAnswer(): QR, RA, the RCODE, opcode and RD kept, the question echoed', () => {
  expect(errorAnswer(QUERY_EDNS, Rcode.ServFail)).toEqual(hex(`1234 8182 0001 0000 0000 0000 ${QNAME} 0001 0001`));
  // no readable question: the header alone, QDCOUNT 0
  expect(errorAnswer(hex('abcd 0100 0001 0000 0000 0000 c00c'), Rcode.FormErr)).toEqual(hex('abcd 8181 0000 0000 0000 0000'));
});

test('dnstcReply(): redsocks 0.5 dnstc, byte for byte', () => {
  expect(dnstcReply(QUERY)).toEqual({ reply: hex(`1234 8300 0001 0000 0000 0000 ${QNAME} 0001 0001`), verdict: 'truncated' });
  // what redsocks refuses: EDNS (ARCOUNT 1), AD or CD set, a response, no question, too short
  expect(dnstcReply(QUERY_EDNS).verdict).toBe('malformed');
  expect(dnstcReply(hex(`1234 0120 0001 0000 0000 0000 ${QNAME} 0001 0001`)).verdict).toBe('malformed');
  expect(dnstcReply(hex(`1234 0110 0001 0000 0000 0000 ${QNAME} 0001 0001`)).verdict).toBe('malformed');
  expect(dnstcReply(hex(`1234 8100 0001 0000 0000 0000 ${QNAME} 0001 0001`)).verdict).toBe('malformed');
  expect(dnstcReply(hex(`1234 0100 0000 0000 0000 0000 00`)).verdict).toBe('malformed');
  expect(dnstcReply(hex('1234 0100 0001 0000 0000 0000'))).toEqual({ reply: null, verdict: 'incomplete' });
  // only the header is looked at: a query whose question is garbage is still "truncated"
  expect(dnstcReply(hex('1234 0100 0001 0000 0000 0000 ff')).verdict).toBe('truncated');
});

test('cacheTtl(): smallest TTL; negative answers by the SOA (RFC 2308); nothing cacheable', () => {
  expect(cacheTtl(ANSWER)).toBe(60);
  expect(cacheTtl(NXDOMAIN)).toBe(120);
  const nodataNoSoa = hex(`1234 8180 0001 0000 0000 0000 ${QNAME} 0001 0001`);
  expect(cacheTtl(nodataNoSoa)).toBe(0);
  const servfail = hex(`1234 8182 0001 0000 0000 0000 ${QNAME} 0001 0001`);
  expect(cacheTtl(servfail)).toBe(0);
  expect(cacheTtl(truncated(ANSWER))).toBe(0);
});

test('agedAnswer(): every TTL but OPT down by the elapsed seconds, never below 0', () => {
  const aged = agedAnswer(ANSWER, 100);
  const r = records(aged);
  expect(r.map((x) => x.ttl)).toEqual([200, 0, 0]);
  expect(aged.length).toBe(ANSWER.length);
  expect(ANSWER.readUInt32BE(records(ANSWER)[0]!.ttlOffset)).toBe(300); // the cached copy is unchanged
});

test('answerFor(), withId(), cacheKey()', () => {
  const other = hex(`beef 0100 0001 0000 0000 0000 03 777777 03 6c4142 00 0001 0001`);
  const a = answerFor(other, ANSWER);
  expect(a.readUInt16BE(0)).toBe(0xbeef);
  expect(a.subarray(12, 12 + 9).toString('latin1')).toBe('\x03www\x03lAB\x00');
  expect(a.subarray(21)).toEqual(ANSWER.subarray(21));
  expect(withId(QUERY, 7).readUInt16BE(0)).toBe(7);
  expect(QUERY.readUInt16BE(0)).toBe(0x1234);
  expect(cacheKey(QUERY)).toBe(cacheKey(other));
  expect(cacheKey(QUERY)).not.toBe(cacheKey(QUERY_EDNS));
  expect(cacheKey(hex(`1234 0110 0001 0000 0000 0000 ${QNAME} 0001 0001`))).not.toBe(cacheKey(QUERY));
});

test('buildQuery()', () => {
  expect(buildQuery(0x1234, 'Www.Lab.', Type.A)).toEqual(QUERY);
  expect(buildQuery(0x1234, 'Www.Lab', Type.A, { edns: 1232, dnssecOk: true })).toEqual(QUERY_EDNS);
});
