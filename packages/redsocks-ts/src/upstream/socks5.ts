/**
 * redsocks' socks5 upstream, plus optimistic connect (docs/optimistic-connect.md).
 *
 * - plain: redsocks 0.5's exact exchange, one message at a time, each reply awaited.
 * - optimistic: greeting {A5,00}|{A6,02} + [RFC 1929] + CONNECT + the client's first bytes in
 *   one write; later client bytes stream on before the reply; the reply is parsed before
 *   anything goes downstream; REP != 0 resets the LAN client.
 * - probe (`optimistic = auto`, server not known yet): the same pipelined handshake without
 *   early data, whose answer is cached per server.
 * A server that breaks on pipelined input is cached as "sequential" and retried plainly.
 * What each server answered is kept in the ServerCapabilities the daemon hands to
 * socks5Upstream() (one per daemon, shared by every section naming the same server).
 */
import type * as net from 'node:net';
import {
  ProxyError,
  ProtocolError,
  ReceiveBuffer,
  ReceiveError,
  UpstreamError,
  errorCode,
  type UpstreamErrorExtra,
  Method,
  Command,
  Rep,
  addressFromHost,
  encodeGreeting,
  encodeUserPassRequest,
  encodeRequest,
  encodeOptimisticHandshake,
  peekReplyStatus,
  parseMethodSelection,
  parseUserPassReply,
  parseReply,
  repText,
  type Socks5Reply,
} from '@mptcp-proxy/common';
import type { RedsocksSection } from '../config/types';
import type { Dialed, Tunnel, UpstreamContext, UpstreamProtocol } from './upstream';
import { ServerCapabilities, serverKey, type ServerVerdict } from './server-capabilities';
import { earlyDataIsIdempotent, earlyDataMayRideSyn } from './fastopen-policy';

/** A server that answers the pipelined greeting but never the request (microsocks #105). */
const PROBE_METHOD_TIMEOUT_MS = 5000;
const PROBE_REPLY_TIMEOUT_MS = 10000;
/**
 * A probe whose CONNECT reply has not come this long (plus 4 greeting round trips) after the
 * method reply races a sequential exchange on a fresh connection; the first to finish wins.
 */
const PROBE_RACE_AFTER_MS = 500;

interface Credentials {
  login: string;
  password: string;
}

/** redsocks' socks5_instance_init: both or none, each at most 255 bytes. */
export function socks5Credentials(section: { login?: string; password?: string }): Credentials | undefined {
  const { login, password } = section;
  if (login === undefined || password === undefined) return undefined;
  if (Buffer.byteLength(login) > 255 || Buffer.byteLength(password) > 255) return undefined;
  return { login, password };
}

export type Socks5Mode = 'plain' | 'optimistic' | 'probe';

export function chooseMode(section: RedsocksSection, verdict: ServerVerdict | undefined): Socks5Mode {
  if (section.optimistic === 'off' || verdict === 'sequential') return 'plain';
  if (section.optimistic === 'on' || verdict === 'oc') return 'optimistic';
  return 'probe';
}

function optimisticHandshake(section: RedsocksSection, dest: { address: string; port: number }): Buffer {
  const creds = socks5Credentials(section);
  return encodeOptimisticHandshake({
    method: creds ? section.optimisticAuthMethod : section.optimisticMethod,
    auth: creds ? { user: creds.login, pass: creds.password } : undefined,
    command: Command.Connect,
    address: addressFromHost(dest.address, dest.port),
  });
}

function failure(code: string, message: string, resetClient: boolean, extra: UpstreamErrorExtra = {}): UpstreamError {
  return new UpstreamError(code, message, { ...extra, resetClient });
}

/**
 * The next message from the server; a silent server (timeoutMs) gets socks5's own text, the
 * code stays EPEER_TIMEOUT.
 */
async function receive<T extends { length: number }>(rb: ReceiveBuffer, parse: (b: Buffer) => T | null, timeoutMs = 0): Promise<T> {
  try {
    return await rb.read(parse, { timeoutMs });
  } catch (err) {
    if (err instanceof ReceiveError && err.code === 'EPEER_TIMEOUT') {
      throw new ReceiveError('EPEER_TIMEOUT', 'Socks5 server did not answer the pipelined handshake');
    }
    throw err;
  }
}

function write(socket: net.Socket, data: Buffer): void {
  if (data.length > 0) socket.write(data);
}

function connectRequest(ctx: UpstreamContext): Buffer {
  return encodeRequest(Command.Connect, addressFromHost(ctx.dest.address, ctx.dest.port));
}

function statusFailure(rep: number, resetClient: boolean): UpstreamError {
  // REP 9 ("connection attempt timed out") only exists under the OC methods.
  const text = (rep < 9 || resetClient ? repText(rep) : '') || '?';
  return failure('ESOCKS5_STATUS', `Socks5 server status: ${text} (${rep})`, resetClient, { rep });
}

function peekStatus(buf: Buffer): number | null {
  try {
    return peekReplyStatus(buf);
  } catch {
    return null;
  }
}

/** Parse helpers that turn codec errors into redsocks' own messages for each stage. */
async function readMethod(reader: ReceiveBuffer, timeoutMs = 0): Promise<number> {
  try {
    const m = await receive(reader, parseMethodSelection, timeoutMs);
    return m.method;
  } catch (err) {
    if (err instanceof ProtocolError) {
      throw new ProxyError(err.code, 'Socks5 server reported unexpected auth methods reply version...', { cause: err });
    }
    throw err;
  }
}

async function readAuthStatus(reader: ReceiveBuffer, resetClient: boolean): Promise<void> {
  let status: number;
  try {
    status = (await receive(reader, parseUserPassReply)).status;
  } catch (err) {
    if (err instanceof ProtocolError) {
      throw failure(err.code, 'Socks5 server reported unexpected auth reply version...', resetClient);
    }
    throw err;
  }
  if (status !== 0) throw failure('ESOCKS5_AUTH', `Socks5 auth failure, status ${status}`, resetClient, { status });
}

async function readConnectReply(reader: ReceiveBuffer, resetClient: boolean, timeoutMs = 0): Promise<Socks5Reply> {
  let reply: Socks5Reply;
  try {
    reply = await receive(reader, parseReply, timeoutMs);
  } catch (err) {
    // Some servers send only `05 REP` and close on failure (tokio-socks #58).
    const partial = err instanceof ReceiveError && err.code === 'EPEER_EOF' ? peekStatus(reader.peek()) : null;
    if (partial !== null && partial !== Rep.Succeeded) throw statusFailure(partial, resetClient);
    if (err instanceof ProtocolError) {
      const msg =
        err.code === 'ESOCKS_ATYP'
          ? 'Socks5 server reported unexpected address type...'
          : 'Socks5 server reported unexpected reply version...';
      throw failure(err.code, msg, resetClient);
    }
    throw err;
  }
  if (reply.rep !== Rep.Succeeded) throw statusFailure(reply.rep, resetClient);
  return reply;
}

/**
 * redsocks' socks5.c, message by message: greeting, RFC 1929 auth when the server asks for it
 * and we have credentials, then `request` (CONNECT, or UDP ASSOCIATE for redudp); resolves with
 * the server's reply (REP 0), rejects with an UpstreamError carrying redsocks' text.
 */
export async function socks5Exchange(
  upstream: net.Socket, reader: ReceiveBuffer, creds: Credentials | undefined, request: Buffer,
  writeFirst?: Dialed['writeFirst'],
): Promise<Socks5Reply> {
  const greeting = encodeGreeting(creds ? [Method.NoAuth, Method.UserPass] : [Method.NoAuth]);
  // a pooled connection: the greeting is cut into one small segment per subflow (Dialed.writeFirst)
  if (writeFirst) await writeFirst(greeting);
  else write(upstream, greeting);
  const method = await readMethod(reader);
  if (method === Method.NoAcceptable) {
    throw failure('ESOCKS5_METHOD', 'Socks5 server refused all our auth methods.', false);
  }
  if (method !== Method.NoAuth && !(method === Method.UserPass && creds)) {
    throw failure('ESOCKS5_METHOD', 'Socks5 server requested unexpected auth method...', false, { method });
  }
  if (method === Method.UserPass && creds) {
    write(upstream, encodeUserPassRequest(creds.login, creds.password));
    await readAuthStatus(reader, false);
  }
  write(upstream, request);
  return readConnectReply(reader, false);
}

/**
 * A warm-pool connection the server (or a NAT) closed while it idled: EOF or a reset before
 * any byte came back. It says nothing about the server, so the stream retries once on a fresh
 * connection and no verdict is cached (docs/fast-by-default.md §3).
 */
function diedIdle(dialed: Dialed, reader: ReceiveBuffer, err: unknown): boolean {
  if (!dialed.pooled || reader.peek().length > 0) return false;
  if (dialed.unanswered !== undefined) return true;
  const code = errorCode(err);
  return code === 'EPEER_EOF' || code === 'ECONNRESET' || code === 'EPIPE';
}

/** The log line of a retry after diedIdle(). */
function retryNote(dialed: Dialed, err: unknown): string {
  return dialed.unanswered !== undefined
    ? `a pooled connection to the server went unanswered (${dialed.unanswered}); reset it, retrying on a fresh one`
    : `a pooled connection to the server was closed while idle (${(err as Error).message}); retrying on a fresh one`;
}

async function plain(ctx: UpstreamContext, replay?: Buffer, pooled = true): Promise<Tunnel> {
  const dialed = await ctx.dial(pooled ? { fastOpen: ctx.section.fastopen } : { fastOpen: ctx.section.fastopen, pooled: false });
  const upstream = dialed.socket;
  const reader = new ReceiveBuffer(upstream);
  try {
    // the greeting's write starts before socks5Exchange first awaits (writeFirst may take a few
    // event-loop turns; the guard's window is race delay + 1 RTT)
    const exchange = socks5Exchange(upstream, reader, socks5Credentials(ctx.section), connectRequest(ctx), dialed.writeFirst);
    dialed.sent?.();
    await exchange;
  } catch (err) {
    reader.detach();
    upstream.destroy();
    if (diedIdle(dialed, reader, err)) {
      ctx.log.info(retryNote(dialed, err));
      return plain(ctx, replay, false);
    }
    throw err;
  }
  const leftover = reader.detach();
  // Bytes a broken pipelined attempt had already taken from the client go first.
  if (replay && replay.length > 0) upstream.write(replay);
  return { upstream, leftover };
}

interface PipelineOptions {
  /** Send the client's first bytes with the handshake (optimistic) or not (probe). */
  early: boolean;
  verdict: ServerVerdict | undefined;
  /** A retry after a pooled connection died idle: a fresh connection, and these client bytes (already drained). */
  retry?: Buffer;
}

/** How long forwardLate() waits for client bytes before it looks again whether to stop. */
const LATE_POLL_MS = 1000;

/**
 * Hands the client's bytes to `send` as they arrive, at most `budget` in all, until `stopped()`
 * (the stream started streaming, or failed) or the client ends.
 */
async function forwardLate(early: ReceiveBuffer, budget: number, stopped: () => boolean, send: (b: Buffer) => void): Promise<void> {
  let left = budget;
  while (left > 0 && !stopped()) {
    await early.wait(LATE_POLL_MS);
    if (stopped()) return;
    if (early.length === 0) {
      if (early.ended || early.failed) return;
      continue;
    }
    const chunk = early.take(Math.min(left, early.length));
    send(chunk);
    left -= chunk.length;
  }
}

async function pipelined(ctx: UpstreamContext, caps: ServerCapabilities, opts: PipelineOptions): Promise<Tunnel> {
  const section = ctx.section;
  const key = serverKey(section.ip, section.port);
  const creds = socks5Credentials(section);
  const ocMethod = creds ? section.optimisticAuthMethod : section.optimisticMethod;
  const plainMethod = creds ? Method.UserPass : Method.NoAuth;

  // Dial first: the handshake is only needed once the connection is up, so encoding it
  // stays off the path between the client's SYN and ours.
  const dialing = ctx
    .dial(opts.retry === undefined ? { fastOpen: section.fastopen } : { fastOpen: section.fastopen, pooled: false })
    .then((dialed) => ({ dialed, handshake: optimisticHandshake(section, ctx.dest) }));
  // Gather the client's first bytes while the connection is being made; the wait ends as soon
  // as the first byte arrives.
  const gather = opts.early && !opts.retry ? ctx.early.wait(section.optimisticGatherMs) : undefined;
  const [{ dialed, handshake }] = await Promise.all([dialing, gather]);
  const upstream = dialed.socket;
  const pooled = dialed.pooled === true;
  const writeFirst = dialed.writeFirst;
  const early = opts.retry ?? (opts.early ? ctx.early.drain() : Buffer.alloc(0));
  const inFirst = early.subarray(0, Math.max(0, section.optimisticMaxEarly));
  const afterFirst = early.subarray(inFirst.length);

  // Reading (and its error listener) starts before the first write: writeFirst() takes a few
  // event loop turns, and a reset meanwhile must reach the reader, not an unhandled 'error'.
  const reader = new ReceiveBuffer(upstream);
  if (section.fastopen && inFirst.length > 0 && !earlyDataMayRideSyn(inFirst, ctx.dest.port, section.fastopenDataPorts)) {
    // The first write rides the SYN: keep replay-unsafe client bytes for the next segment.
    write(upstream, handshake);
    write(upstream, inFirst);
  } else if (writeFirst) {
    await writeFirst(Buffer.concat([handshake, inFirst]));
  } else {
    write(upstream, Buffer.concat([handshake, inFirst]));
  }
  dialed.sent?.();

  let streaming = false;
  /** Client bytes sent after the first flight and before the method reply (a pooled OC stream). */
  const late: Buffer[] = [];
  let lateDone = false;
  const startStreaming = (): void => {
    lateDone = true;
    if (streaming || !opts.early) return;
    streaming = true;
    write(upstream, afterFirst);
    ctx.startClientToUpstream(upstream);
  };
  // A server known to speak OC gets the rest of the client's bytes at once; an unknown one
  // first has to show (by its method reply) that it parses pipelined input. A pooled
  // connection may have been closed by its server while idle, and then a retry has to send
  // everything again: until the method reply its client bytes go out as they arrive, but each
  // is kept, up to optimistic_max_early in all (docs/optimistic-connect.md, "Warm pool").
  if (opts.verdict === 'oc' && !pooled) startStreaming();
  else if (opts.verdict === 'oc' && opts.early && afterFirst.length === 0) {
    void forwardLate(ctx.early, section.optimisticMaxEarly - inFirst.length, () => lateDone, (b) => {
      write(upstream, b);
      late.push(b);
    });
  }

  const probing = !opts.early;
  const sent = Date.now();
  let method: number;
  try {
    method = await readMethod(reader, probing || opts.verdict === undefined ? PROBE_METHOD_TIMEOUT_MS : 0);
    if (method === Method.NoAcceptable) {
      throw failure('ESOCKS5_METHOD', 'Socks5 server refused all our auth methods.', opts.early);
    }
    if (method !== ocMethod && method !== plainMethod) {
      throw failure('ESOCKS5_METHOD', 'Socks5 server requested unexpected auth method...', opts.early, { method });
    }
  } catch (err) {
    lateDone = true;
    reader.detach();
    upstream.destroy();
    if (!streaming && diedIdle(dialed, reader, err)) {
      ctx.log.info(retryNote(dialed, err));
      return pipelined(ctx, caps, { ...opts, retry: late.length > 0 ? Buffer.concat([early, ...late]) : early });
    }
    if (err instanceof UpstreamError) throw err;
    // EOF or garbage before the method reply: this server cannot take pipelining. A silent
    // server only condemns itself when probing (an OC timeout may be the network's fault).
    if (probing || errorCode(err) !== 'EPEER_TIMEOUT') {
      caps.set(key, 'sequential', section.optimisticCacheTtl);
    }
    ctx.log.info(`Socks5 server ${key} broke on a pipelined handshake (${(err as Error).message}); using sequential mode`);
    if (streaming || late.length > 0 || !earlyDataIsIdempotent(early)) {
      throw failure('ESOCKS5_PIPELINE', 'Socks5 server broke on optimistic connect; early data fate unknown', true, {
        cause: err,
      });
    }
    return plain(ctx, early);
  }
  const verdict: ServerVerdict = method === ocMethod ? 'oc' : 'pipeline';
  if (verdict !== opts.verdict) {
    caps.set(key, verdict, section.optimisticCacheTtl);
    ctx.log.debug(`Socks5 server ${key} ${verdict === 'oc' ? 'speaks optimistic connect' : 'takes pipelined input, no optimistic connect'}`);
  }
  startStreaming();

  try {
    if (creds) await readAuthStatus(reader, opts.early);
    if (probing) {
      const seq = await probeReply(ctx, reader, PROBE_RACE_AFTER_MS + 4 * (Date.now() - sent));
      if (seq) {
        // The sequential exchange answered first: this server sits on a pipelined request.
        reader.detach();
        upstream.destroy();
        caps.set(key, 'sequential', section.optimisticCacheTtl);
        ctx.log.info(`Socks5 server ${key} answered the method but not the pipelined request; using sequential mode`);
        return seq;
      }
    } else {
      await readConnectReply(reader, opts.early);
    }
  } catch (err) {
    reader.detach();
    upstream.destroy();
    if (probing && errorCode(err) === 'EPEER_TIMEOUT') {
      caps.set(key, 'sequential', section.optimisticCacheTtl);
      return plain(ctx);
    }
    if (!(err instanceof UpstreamError)) {
      throw failure(errorCode(err) ?? 'EUPSTREAM', (err as Error).message, opts.early, { cause: err });
    }
    throw err;
  }
  return { upstream, leftover: reader.detach() };
}

/**
 * The probe's CONNECT reply. A server that answered the method but sits on a request that came
 * in the same segment (microsocks #105) would hold the first connection for
 * PROBE_REPLY_TIMEOUT_MS; so after `raceAfterMs` a sequential exchange starts on a fresh
 * connection and the first to finish wins (a probe carries no client bytes, so the loser is
 * only a connect). Resolves undefined when the pipelined reply won, or the sequential tunnel.
 */
async function probeReply(ctx: UpstreamContext, reader: ReceiveBuffer, raceAfterMs: number): Promise<Tunnel | undefined> {
  const reply = readConnectReply(reader, false, PROBE_REPLY_TIMEOUT_MS).then(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), raceAfterMs);
  });
  try {
    if ((await Promise.race([reply.then(() => 'reply' as const), late])) === 'reply') return undefined;
  } finally {
    clearTimeout(timer);
  }
  const seq = plain(ctx, undefined, false);
  try {
    const won = await Promise.any([reply, seq]);
    if (won === undefined) void seq.then((t) => t.upstream.destroy(), () => undefined);
    return won;
  } catch (err) {
    // both failed: the pipelined attempt's error is the server's answer
    throw (err as AggregateError).errors[0];
  }
}

/** redsocks' socks5.c, no startup checks of its own (the grammar checks the credentials). */
export function socks5Upstream(caps: ServerCapabilities = new ServerCapabilities()): UpstreamProtocol {
  const verdictFor = (section: RedsocksSection): ServerVerdict | undefined => caps.get(serverKey(section.ip, section.port));
  return {
    name: 'socks5',
    establish(ctx: UpstreamContext): Promise<Tunnel> {
      const verdict = verdictFor(ctx.section);
      switch (chooseMode(ctx.section, verdict)) {
        case 'plain':
          return plain(ctx);
        case 'optimistic':
          return pipelined(ctx, caps, { early: true, verdict });
        case 'probe':
          return pipelined(ctx, caps, { early: false, verdict });
      }
    },
  };
}
