/**
 * redsocks' socks5 upstream, plus optimistic connect (zero-rtt.md §3).
 *
 * - plain: redsocks 0.5's exact exchange, one message at a time, each reply awaited.
 * - optimistic: greeting {A5,00}|{A6,02} + [RFC 1929] + CONNECT + the client's first bytes in
 *   one write; later client bytes stream on before the reply; the reply is parsed before
 *   anything goes downstream; REP != 0 resets the LAN client.
 * - probe (`optimistic = auto`, server not known yet): the same pipelined handshake without
 *   early data, whose answer is cached per server.
 * A server that breaks on pipelined input is cached as "sequential" and retried plainly.
 */
import type * as net from 'node:net';
import {
  ProxyError,
  ProtocolError,
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
} from '@mptcp-proxy/common';
import type { RedsocksInstance } from '../config/types';
import type { Tunnel, UpstreamContext, UpstreamProtocol } from './upstream';
import { serverCapabilities, serverKey, type ServerVerdict } from '../dial/server-capabilities';
import { earlyDataIsIdempotent, earlyDataMayRideSyn } from '../dial/fastopen-policy';
import { preGreetingOf } from '../dial/pre-greeting';

/** A server that answers the pipelined greeting but never the request (microsocks #105). */
const PROBE_METHOD_TIMEOUT_MS = 5000;
const PROBE_REPLY_TIMEOUT_MS = 10000;

interface Credentials {
  login: string;
  password: string;
}

/** redsocks' socks5_instance_init: both or none, each at most 255 bytes. */
export function socks5Credentials(instance: RedsocksInstance): Credentials | undefined {
  const { login, password } = instance;
  if (login === undefined || password === undefined) return undefined;
  if (Buffer.byteLength(login) > 255 || Buffer.byteLength(password) > 255) return undefined;
  return { login, password };
}

export type Socks5Mode = 'plain' | 'optimistic' | 'probe';

export function chooseMode(instance: RedsocksInstance, verdict: ServerVerdict | undefined): Socks5Mode {
  if (instance.optimistic === 'off' || verdict === 'sequential') return 'plain';
  if (instance.optimistic === 'on' || verdict === 'oc') return 'optimistic';
  return 'probe';
}

function optimisticHandshake(inst: RedsocksInstance, dest: { address: string; port: number }): Buffer {
  const creds = socks5Credentials(inst);
  return encodeOptimisticHandshake({
    method: creds ? inst.optimisticAuthMethod : inst.optimisticMethod,
    auth: creds ? { user: creds.login, pass: creds.password } : undefined,
    command: Command.Connect,
    address: addressFromHost(dest.address, dest.port),
  });
}

/**
 * The greeting a warm-pool connection may send before it is used (see dial/pre-greeting.ts):
 * only when streams to this server use optimistic connect, whose server holds its method
 * choice, so an idle pre-greeted connection receives nothing until its CONNECT.
 */
export function socks5PoolGreeting(instance: RedsocksInstance): Buffer | undefined {
  if (instance.type !== 'socks5') return undefined;
  const verdict = serverCapabilities.get(serverKey(instance.ip, instance.port));
  if (chooseMode(instance, verdict) !== 'optimistic') return undefined;
  const hs = optimisticHandshake(instance, { address: '0.0.0.0', port: 0 });
  return hs.subarray(0, 2 + hs[1]);
}

/** A pooled connection that was greeted differently from what this stream needs is replaced. */
async function ungreeted(ctx: UpstreamContext, upstream: net.Socket, fastOpen: boolean): Promise<net.Socket> {
  if (!preGreetingOf(upstream)) return upstream;
  upstream.destroy();
  return ctx.dial({ fastOpen, pooled: false });
}

function failure(code: string, message: string, resetClient: boolean, extra: UpstreamErrorExtra = {}): UpstreamError {
  return new UpstreamError(code, message, { ...extra, resetClient });
}

function ignoreError(): void {
  // see Reader
}

/** Accumulates upstream bytes across messages, so split and coalesced replies both parse. */
class Reader {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  private readonly onData = (chunk: Buffer): void => {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.notify();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.notify();
  };
  private readonly onError = (err: Error): void => {
    this.error = err;
    this.notify();
  };

  constructor(private readonly socket: net.Socket) {
    // A late error (e.g. a TFO SYN refused) between our detach and the relay's own listener
    // must not crash the process; the relay still sees it.
    if (!socket.listeners('error').includes(ignoreError)) socket.on('error', ignoreError);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
    socket.resume();
  }

  /** Bytes received so far and not parsed yet. */
  peek(): Buffer {
    return this.buf;
  }

  async read<T extends { length: number }>(parse: (b: Buffer) => T | null, timeoutMs = 0): Promise<T> {
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : 0;
    for (;;) {
      const v = parse(this.buf);
      if (v) {
        this.buf = this.buf.subarray(v.length);
        return v;
      }
      if (this.error) throw this.error;
      if (this.ended) throw new ProxyError('EUPSTREAMEOF', "Can't get expected amount of data");
      await new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        this.wake = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
        if (deadline) {
          timer = setTimeout(() => {
            this.wake = undefined;
            reject(new ProxyError('EUPSTREAMTIMEOUT', 'Socks5 server did not answer the pipelined handshake'));
          }, Math.max(1, deadline - Date.now()));
        }
      });
    }
  }

  /** Stops reading; returns bytes past the handshake (the first downstream bytes). */
  detach(): Buffer {
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    return rest;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    if (w) w();
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
async function readMethod(reader: Reader, timeoutMs = 0): Promise<number> {
  try {
    const m = await reader.read(parseMethodSelection, timeoutMs);
    return m.method;
  } catch (err) {
    if (err instanceof ProtocolError) {
      throw new ProxyError(err.code, 'Socks5 server reported unexpected auth methods reply version...', { cause: err });
    }
    throw err;
  }
}

async function readAuthStatus(reader: Reader, resetClient: boolean): Promise<void> {
  let status: number;
  try {
    status = (await reader.read(parseUserPassReply)).status;
  } catch (err) {
    if (err instanceof ProtocolError) {
      throw failure(err.code, 'Socks5 server reported unexpected auth reply version...', resetClient);
    }
    throw err;
  }
  if (status !== 0) throw failure('ESOCKS5_AUTH', `Socks5 auth failure, status ${status}`, resetClient, { status });
}

async function readConnectReply(reader: Reader, resetClient: boolean, timeoutMs = 0): Promise<void> {
  let rep: number;
  try {
    rep = (await reader.read(parseReply, timeoutMs)).rep;
  } catch (err) {
    // Some servers send only `05 REP` and close on failure (tokio-socks #58).
    const partial = err instanceof ProxyError && err.code === 'EUPSTREAMEOF' ? peekStatus(reader.peek()) : null;
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
  if (rep !== Rep.Succeeded) throw statusFailure(rep, resetClient);
}

/** redsocks' socks5.c, message by message. */
async function plainExchange(ctx: UpstreamContext, upstream: net.Socket, reader: Reader): Promise<void> {
  const creds = socks5Credentials(ctx.instance);
  write(upstream, encodeGreeting(creds ? [Method.NoAuth, Method.UserPass] : [Method.NoAuth]));
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
  write(upstream, connectRequest(ctx));
  await readConnectReply(reader, false);
}

async function plain(ctx: UpstreamContext, replay?: Buffer): Promise<Tunnel> {
  const upstream = await ungreeted(ctx, await ctx.dial({ fastOpen: ctx.instance.fastopen }), ctx.instance.fastopen);
  const reader = new Reader(upstream);
  try {
    await plainExchange(ctx, upstream, reader);
  } catch (err) {
    reader.detach();
    upstream.destroy();
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
}

async function pipelined(ctx: UpstreamContext, opts: PipelineOptions): Promise<Tunnel> {
  const inst = ctx.instance;
  const key = serverKey(inst.ip, inst.port);
  const creds = socks5Credentials(inst);
  const ocMethod = creds ? inst.optimisticAuthMethod : inst.optimisticMethod;
  const plainMethod = creds ? Method.UserPass : Method.NoAuth;

  // Dial first: the handshake is only needed once the connection is up, so encoding it
  // stays off the path between the client's SYN and ours.
  const dialing = ctx.dial({ fastOpen: inst.fastopen }).then(async (sock) => {
    const handshake = optimisticHandshake(inst, ctx.dest);
    const pre = preGreetingOf(sock);
    if (!pre) return { upstream: sock, handshake };
    // A pre-greeted pooled connection: its greeting went out when the pool opened it.
    if (opts.early && handshake.subarray(0, pre.length).equals(pre)) return { upstream: sock, handshake: handshake.subarray(pre.length) };
    return { upstream: await ungreeted(ctx, sock, inst.fastopen), handshake };
  });
  // Gather the client's first bytes while the connection is being made; the wait ends as soon
  // as the first byte arrives.
  const [{ upstream, handshake }] = await Promise.all([dialing, opts.early ? ctx.early.wait(inst.optimisticGatherMs) : undefined]);
  const early = opts.early ? ctx.early.take() : Buffer.alloc(0);
  const inFirst = early.subarray(0, Math.max(0, inst.optimisticMaxEarly));
  const afterFirst = early.subarray(inFirst.length);

  if (inst.fastopen && inFirst.length > 0 && !earlyDataMayRideSyn(inFirst, ctx.dest.port, inst.fastopenDataPorts)) {
    // The first write rides the SYN: keep replay-unsafe client bytes for the next segment.
    write(upstream, handshake);
    write(upstream, inFirst);
  } else {
    write(upstream, Buffer.concat([handshake, inFirst]));
  }

  const reader = new Reader(upstream);
  let streaming = false;
  const startStreaming = (): void => {
    if (streaming || !opts.early) return;
    streaming = true;
    write(upstream, afterFirst);
    ctx.startClientToUpstream(upstream);
  };
  // A server known to speak OC gets the rest of the client's bytes at once; an unknown one
  // first has to show (by its method reply) that it parses pipelined input.
  if (opts.verdict === 'oc') startStreaming();

  const probing = !opts.early;
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
    reader.detach();
    upstream.destroy();
    if (err instanceof UpstreamError) throw err;
    // EOF or garbage before the method reply: this server cannot take pipelining. A silent
    // server only condemns itself when probing (an OC timeout may be the network's fault).
    if (probing || errorCode(err) !== 'EUPSTREAMTIMEOUT') {
      serverCapabilities.set(key, 'sequential', inst.optimisticCacheTtl);
    }
    ctx.log.info(`Socks5 server ${key} broke on a pipelined handshake (${(err as Error).message}); using sequential mode`);
    if (streaming || !earlyDataIsIdempotent(early)) {
      throw failure('ESOCKS5_PIPELINE', 'Socks5 server broke on optimistic connect; early data fate unknown', true, {
        cause: err,
      });
    }
    return plain(ctx, early);
  }
  const verdict: ServerVerdict = method === ocMethod ? 'oc' : 'pipeline';
  if (verdict !== opts.verdict) {
    serverCapabilities.set(key, verdict, inst.optimisticCacheTtl);
    ctx.log.debug(`Socks5 server ${key} ${verdict === 'oc' ? 'speaks optimistic connect' : 'takes pipelined input, no optimistic connect'}`);
  }
  startStreaming();

  try {
    if (creds) await readAuthStatus(reader, opts.early);
    await readConnectReply(reader, opts.early, probing ? PROBE_REPLY_TIMEOUT_MS : 0);
  } catch (err) {
    reader.detach();
    upstream.destroy();
    if (probing && errorCode(err) === 'EUPSTREAMTIMEOUT') {
      serverCapabilities.set(key, 'sequential', inst.optimisticCacheTtl);
      return plain(ctx);
    }
    if (!(err instanceof UpstreamError)) {
      throw failure(errorCode(err) ?? 'EUPSTREAM', (err as Error).message, opts.early, { cause: err });
    }
    throw err;
  }
  return { upstream, leftover: reader.detach() };
}

export const socks5: UpstreamProtocol = {
  name: 'socks5',
  establish(ctx: UpstreamContext): Promise<Tunnel> {
    const inst = ctx.instance;
    const verdict = serverCapabilities.get(serverKey(inst.ip, inst.port));
    switch (chooseMode(inst, verdict)) {
      case 'plain':
        return plain(ctx);
      case 'optimistic':
        return pipelined(ctx, { early: true, verdict });
      case 'probe':
        return pipelined(ctx, { early: false, verdict });
    }
  },
};
