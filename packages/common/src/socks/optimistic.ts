/**
 * Optimistic connect (docs/optimistic-connect.md §3) and plain pipelining, client side.
 *
 * Client, one write:  05 N M.. | [01 ULEN USER PLEN PASS] | 05 CMD 00 ATYP ADDR PORT | early data
 * Server answers:     05 M | [01 STATUS] | 05 REP 00 ATYP ADDR PORT | downstream data
 *
 * The same bytes are a valid pipelined handshake for a plain server picking 00/02, so the reader
 * below serves both. A server picking a method whose framing differs from what was pipelined
 * (e.g. 00 while credentials were sent) throws ESOCKS_METHOD_UNEXPECTED: the stream is garbage.
 */
import { ProtocolError } from '../errors';
import { SocksAddress } from './address';
import { Command, DEFAULT_OC_AUTH_METHOD, Method } from './constants';
import { encodeGreeting, encodeRequest, encodeUserPassRequest, parseMethodSelection, parseReply, parseUserPassReply, peekReplyStatus } from './socks5';

export interface OptimisticHandshakeOptions {
  /** First method offered: the OC method (0xa5/0xa6) or a plain one (0x00/0x02) for pipelining. */
  method: number;
  auth?: { user: string | Buffer; pass: string | Buffer };
  /** Overrides the offered list (default: [method, 0x02] with auth, [method, 0x00] without). */
  methods?: readonly number[];
  command?: number;
  address: SocksAddress;
  earlyData?: Buffer;
}

export function offeredMethods(opts: Pick<OptimisticHandshakeOptions, 'method' | 'auth' | 'methods'>): number[] {
  if (opts.methods) return [...opts.methods];
  const fallback = opts.auth ? Method.UserPass : Method.NoAuth;
  return opts.method === fallback ? [fallback] : [opts.method, fallback];
}

/** Greeting, [RFC 1929], request and early data as one buffer (one write / one TFO SYN). */
export function encodeOptimisticHandshake(opts: OptimisticHandshakeOptions): Buffer {
  const parts = [encodeGreeting(offeredMethods(opts))];
  if (opts.auth) parts.push(encodeUserPassRequest(opts.auth.user, opts.auth.pass));
  parts.push(encodeRequest(opts.command ?? Command.Connect, opts.address));
  if (opts.earlyData && opts.earlyData.length > 0) parts.push(opts.earlyData);
  return Buffer.concat(parts);
}

export interface HandshakeExpectation {
  /** true when the RFC 1929 sub-negotiation was pipelined after the greeting. */
  authMethodOffered: boolean;
  /** When given, a selected method outside this list (other than 0xff) throws. */
  offeredMethods?: readonly number[];
  /** Methods followed by RFC 1929 framing; default [0x02, 0xa6]. */
  userPassMethods?: readonly number[];
}

export interface ServerHandshake {
  method: number;
  authStatus?: number;
  /** Absent when the server refused all methods (0xff) or the credentials (status != 0). */
  reply?: { rep: number; address: SocksAddress };
  /** true only for an accepted method, auth status 0 (if any) and REP 00. */
  ok: boolean;
  length: number;
}

export interface PartialHandshake {
  method?: number;
  authStatus?: number;
  rep?: number;
}

const DEFAULT_USERPASS = [Method.UserPass, DEFAULT_OC_AUTH_METHOD];

function methodNeedsAuth(method: number, expect: HandshakeExpectation): boolean {
  if (expect.offeredMethods && !expect.offeredMethods.includes(method)) {
    throw new ProtocolError('ESOCKS_METHOD_UNEXPECTED', `server selected method ${method}, which was not offered`);
  }
  const auth = (expect.userPassMethods ?? DEFAULT_USERPASS).includes(method);
  if (auth !== expect.authMethodOffered) {
    throw new ProtocolError(
      'ESOCKS_METHOD_UNEXPECTED',
      `server selected method ${method}, which does not match the pipelined ${expect.authMethodOffered ? 'credentials' : 'request'}`,
    );
  }
  return auth;
}

/**
 * Parses `05 M | [01 STATUS] | 05 REP 00 ATYP ADDR PORT` from whatever has arrived; null if more
 * bytes are needed. Stops early (no reply) after method 0xff or a failed auth status.
 */
export function parseServerHandshake(buf: Buffer, expect: HandshakeExpectation): ServerHandshake | null {
  const sel = parseMethodSelection(buf);
  if (sel === null) return null;
  const method = sel.method;
  if (method === Method.NoAcceptable) return { method, ok: false, length: sel.length };
  let off = sel.length;
  let authStatus: number | undefined;
  if (methodNeedsAuth(method, expect)) {
    const ar = parseUserPassReply(buf.subarray(off));
    if (ar === null) return null;
    off += ar.length;
    authStatus = ar.status;
    if (authStatus !== 0) return { method, authStatus, ok: false, length: off };
  }
  const rep = parseReply(buf.subarray(off));
  if (rep === null) return null;
  const out: ServerHandshake = {
    method,
    reply: { rep: rep.rep, address: rep.address },
    ok: rep.rep === 0,
    length: off + rep.length,
  };
  if (authStatus !== undefined) out.authStatus = authStatus;
  return out;
}

/** What is known so far, for EOF before a full answer (servers that send a truncated `05 REP`). */
export function parsePartialHandshake(buf: Buffer, expect: HandshakeExpectation): PartialHandshake {
  const out: PartialHandshake = {};
  const sel = parseMethodSelection(buf);
  if (sel === null) return out;
  out.method = sel.method;
  if (sel.method === Method.NoAcceptable) return out;
  let off = sel.length;
  if (methodNeedsAuth(sel.method, expect)) {
    const ar = parseUserPassReply(buf.subarray(off));
    if (ar === null) return out;
    out.authStatus = ar.status;
    if (ar.status !== 0) return out;
    off += ar.length;
  }
  const rep = peekReplyStatus(buf.subarray(off));
  if (rep !== null) out.rep = rep;
  return out;
}
