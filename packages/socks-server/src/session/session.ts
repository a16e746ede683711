/**
 * One client: an explicit state machine over a ReceiveBuffer ("need N bytes").
 *
 *   Detect -> Greeting -> [Auth] -> Request -> Resolving -> Connecting -> Established
 *                                            \-> Bind / Udp
 *   any -> Closed (terminal)
 *
 * Bytes after the request are early data: kept in the queue (capped; beyond the
 * cap the client socket is paused) and written to the destination only after
 * the connect succeeded. On any failure they are dropped, never re-parsed.
 */
import type * as net from 'node:net';
import {
  ReceiveBuffer, Command as SocksCommand, Method, ProtocolError, Rep, Socks4Rep, SocksAddress,
  detectVersion, encodeMethodSelection, encodeSocks4Reply, encodeSocks5Reply, encodeUserPassReply,
  errnoToRep, parseGreeting, parseSocks4Request, parseSocks5Request, parseUserPassRequest,
  protocolErrorToRep,
} from '@mptcp-proxy/common';
import type { Command, MatchContext, Rule, SocksMethod } from '../config';
import { matchRule } from '../config';
import {
  ByteCounts, acceptBlocked, acceptClosed, clientAddr, commandBlocked, commandClosed, commandOpen,
  dotAddr, strerror,
} from '../log/dante-format';
import { ruleKey, type Runtime } from '../runtime';
import { selectMethod, type MethodChoice } from './method-select';
import { resolveHost } from '../net/resolve';

export const enum Phase {
  Detect,
  Greeting,
  Auth,
  Request,
  Resolving,
  Connecting,
  Established,
  Bind,
  Udp,
  Closed,
}

const PHASE_NAMES = ['detect', 'greeting', 'auth', 'request', 'resolving', 'connecting', 'established', 'bind', 'udp', 'closed'];

/** Implemented by connect/bind/udp handlers that take over after the request. */
export interface CommandHandler {
  /** Client bytes that arrive while the handler owns the session but before a relay does. */
  onClientData?(chunk: Buffer): void;
  onClientEnd?(): void;
  /** Called once from Session.close(); releases the handler's sockets. */
  dispose(): void;
  /** Destination-side byte counts for the log. */
  counts?(): { toDest: number; fromDest: number; local: string; dest: string };
}

export interface SessionHooks {
  /** Starts the command after the rules passed. */
  start(session: Session): void;
  /** Called when the session is gone (server bookkeeping). */
  closed(session: Session): void;
}

const kSession = Symbol('socks-session');
type Tagged = net.Socket & { [kSession]?: Session };

// Shared listeners (no per-connection closures).
function onData(this: Tagged, chunk: Buffer): void {
  this[kSession]?.onData(chunk);
}
function onEnd(this: Tagged): void {
  this[kSession]?.onClientEnd();
}
function onError(this: Tagged, err: Error): void {
  const s = this[kSession];
  // Once relaying, the relay owns errors and close.
  if (s !== undefined && s.phase !== Phase.Established) s.onClientError(err as NodeJS.ErrnoException);
}
function onClose(this: Tagged): void {
  const s = this[kSession];
  if (s !== undefined && s.phase !== Phase.Established) s.close('local client closed');
}

export interface Request {
  version: 4 | 5;
  command: Command;
  address: SocksAddress;
  /** Resolved destination (IP) once known. */
  ip?: string;
  family?: 4 | 6;
}

export class Session {
  phase = Phase.Detect;
  readonly client: net.Socket;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly startMs = Date.now();
  /** Absolute ms for the negotiate/connect deadline (0 = none). */
  deadline = 0;
  queue: ReceiveBuffer | null = new ReceiveBuffer();
  choice: MethodChoice | undefined;
  method: SocksMethod = 'none';
  user: string | undefined;
  request: Request | undefined;
  socksRule: Rule | undefined;
  handler: CommandHandler | undefined;
  /** Handshake bytes read from / written to the client (not data). */
  handshakeIn = 0;
  handshakeOut = 0;
  /** OC: method selection and auth status held back to go out with the reply. */
  private held: Buffer[] | null = null;
  private earlyCounted = 0;
  private ocPending = false;
  private countedRules: string[] = [];
  private closeReason = '';
  /** timeout.io for this session's relay, ms (0 = none). */
  ioMs = 0;

  constructor(
    readonly rt: Runtime,
    socket: net.Socket,
    readonly clientRule: Rule | undefined,
    private readonly hooks: SessionHooks,
    negotiateMs: number,
  ) {
    this.client = socket;
    this.clientAddress = socket.remoteAddress ?? '0.0.0.0';
    this.clientPort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '0.0.0.0';
    this.localPort = socket.localPort ?? 0;
    if (negotiateMs > 0) this.deadline = this.startMs + negotiateMs;
    if (clientRule) this.countRule(clientRule);
    (socket as Tagged)[kSession] = this;
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
  }

  /** The relay reads the client from now on. */
  detachInput(): void {
    this.client.removeListener('data', onData);
  }

  get phaseName(): string {
    return PHASE_NAMES[this.phase];
  }

  get clientText(): string {
    return clientAddr(this.clientAddress, this.clientPort, this.user);
  }

  get internalText(): string {
    return dotAddr(this.localAddress, this.localPort);
  }

  get optimistic(): boolean {
    return this.choice?.optimistic === true;
  }

  get destText(): string {
    const a = this.request?.address;
    return a ? dotAddr(a.host, a.port) : '0.0.0.0.0';
  }

  // ---- input ----

  onData(chunk: Buffer): void {
    const q = this.queue;
    if (q === null) {
      this.handler?.onClientData?.(chunk);
      return;
    }
    q.push(chunk);
    if (this.phase >= Phase.Resolving) {
      this.accountEarly(chunk.length);
      return;
    }
    this.advance();
  }

  onClientEnd(): void {
    if (this.phase === Phase.Closed) return;
    if (this.handler?.onClientEnd) {
      this.handler.onClientEnd();
      return;
    }
    if (this.phase < Phase.Resolving) {
      this.negotiationError('eof from local client');
      return;
    }
    // EOF while connecting: the early data stays; the relay passes the EOF on later.
  }

  onClientError(err: NodeJS.ErrnoException): void {
    if (this.phase === Phase.Closed) return;
    this.close(`local client error (${strerror(err.code)})`);
  }

  /** Runs the parsers over whatever is queued until one needs more bytes. */
  private advance(): void {
    try {
      for (;;) {
        const before = this.phase;
        switch (this.phase) {
          case Phase.Detect:
            this.stepDetect();
            break;
          case Phase.Greeting:
            this.stepGreeting();
            break;
          case Phase.Auth:
            this.stepAuth();
            break;
          case Phase.Request:
            this.stepRequest();
            break;
          default:
            return;
        }
        if (this.phase === before) return;
      }
    } catch (e) {
      if (this.phase === Phase.Closed) return;
      const err = e as ProtocolError;
      if (err instanceof ProtocolError) this.protocolError(err);
      else this.close(`internal error: ${(err as Error).message}`);
    }
  }

  private stepDetect(): void {
    const v = detectVersion(this.queue!.peek(1));
    if (v === null) return;
    this.phase = v === 5 ? Phase.Greeting : Phase.Request;
    this.request = undefined;
    if (v === 4) this.versionHint = 4;
  }

  private versionHint: 4 | 5 = 5;

  private stepGreeting(): void {
    const q = this.queue!;
    const g = parseGreeting(q.peek());
    if (g === null) return;
    q.consume(g.length);
    this.handshakeIn += g.length;
    const choice = selectMethod(g.methods, this.rt.policy);
    this.choice = choice;
    if (choice.wire === Method.NoAcceptable) {
      this.sendRaw(encodeMethodSelection(Method.NoAcceptable));
      this.negotiationError('client offered no acceptable authentication method');
      return;
    }
    this.method = choice.method!;
    if (choice.optimistic) this.held = [encodeMethodSelection(choice.wire)];
    else this.sendRaw(encodeMethodSelection(choice.wire));
    this.phase = choice.needsAuth ? Phase.Auth : Phase.Request;
  }

  private stepAuth(): void {
    const q = this.queue!;
    const a = parseUserPassRequest(q.peek());
    if (a === null) return;
    q.consume(a.length);
    this.handshakeIn += a.length;
    const user = a.username.toString('utf8');
    const ok = this.rt.auth !== undefined && this.rt.auth.verify(user, a.password.toString('utf8'));
    a.password.fill(0);
    if (!ok) {
      this.sendHeld(encodeUserPassReply(1));
      const what = this.rt.auth?.kind === 'passwordfile' ? 'password file' : 'system password';
      this.negotiationError(`${what} authentication failed for user "${user}"`);
      return;
    }
    this.user = user;
    this.rt.shared.recentAuth.set(this.clientAddress, Date.now());
    const reply = encodeUserPassReply(0);
    if (this.held) this.held.push(reply);
    else this.sendRaw(reply);
    this.phase = Phase.Request;
  }

  private stepRequest(): void {
    const q = this.queue!;
    let req: Request;
    if (this.versionHint === 4) {
      const r = parseSocks4Request(q.peek());
      if (r === null) return;
      q.consume(r.length);
      this.handshakeIn += r.length;
      const command: Command | undefined = r.command === 1 ? 'connect' : r.command === 2 ? 'bind' : undefined;
      this.request = { version: 4, command: command ?? 'connect', address: r.address };
      if (command === undefined) {
        this.fail(Socks4Rep.Rejected, `unknown SOCKS4 command ${r.command}`);
        return;
      }
      if (!this.rt.config.socksMethod.includes('none')) {
        this.fail(Socks4Rep.Rejected, 'SOCKS4 request, but method "none" is not enabled');
        return;
      }
      req = this.request;
    } else {
      const r = parseSocks5Request(q.peek());
      if (r === null) return;
      q.consume(r.length);
      this.handshakeIn += r.length;
      const command: Command | undefined =
        r.command === SocksCommand.Connect ? 'connect'
          : r.command === SocksCommand.Bind ? 'bind'
            : r.command === SocksCommand.UdpAssociate ? 'udpassociate' : undefined;
      this.request = { version: 5, command: command ?? 'connect', address: r.address };
      if (command === undefined) {
        this.fail(Rep.CommandNotSupported, `unknown command ${r.command}`);
        return;
      }
      req = this.request;
    }
    this.phase = Phase.Resolving;
    // Everything still queued is early data from here on.
    this.accountEarly(q.length);
    this.deadline = this.rt.connectMs > 0 ? Date.now() + this.rt.connectMs : 0;
    if (req.address.type === 'domain' && req.command !== 'udpassociate') {
      resolveHost(req.address.host, this.rt.connectMs).then(
        (r) => {
          if (this.phase !== Phase.Resolving) return;
          req.ip = r.address;
          req.family = r.family;
          this.checkRules();
        },
        (err: NodeJS.ErrnoException) => {
          if (this.phase !== Phase.Resolving) return;
          this.failErrno(err.code, `could not resolve ${req.address.host}`);
        },
      );
    } else {
      if (req.address.type !== 'domain') {
        req.ip = req.address.host;
        req.family = req.address.type === 'ipv6' ? 6 : 4;
      }
      this.checkRules();
    }
  }

  /** socks-rules after the request: command, destination, user, method. */
  private checkRules(): void {
    const req = this.request!;
    const ctx: MatchContext = {
      clientAddress: this.clientAddress,
      clientPort: this.clientPort,
      serverAddress: this.localAddress,
      serverPort: this.localPort,
      command: req.command,
      protocol: req.command === 'udpassociate' ? 'udp' : 'tcp',
      proxyProtocol: req.version === 4 ? 'socks_v4' : 'socks_v5',
      method: this.method,
      user: this.user,
      dest: { host: req.address.host, port: req.address.port },
      destAddresses: req.ip !== undefined && req.ip !== req.address.host ? [req.ip] : undefined,
    };
    const m = matchRule(this.rt.config.socksRules, ctx);
    this.socksRule = m.rule;
    if (!m.pass) {
      this.logBlocked(m.rule);
      this.fail(req.version === 4 ? Socks4Rep.Rejected : Rep.NotAllowed, undefined, false);
      return;
    }
    const rule = m.rule!;
    if (this.optimistic && !this.ocAllowedBy(rule)) {
      this.logBlocked(rule, 'optimistic connect not allowed by this rule');
      this.fail(Rep.NotAllowed, undefined, false);
      return;
    }
    if (rule.session.max !== undefined && (this.rt.shared.ruleSessions.get(ruleKey(rule)) ?? 0) >= rule.session.max) {
      this.logBlocked(rule, `session limit of ${rule.session.max} reached`);
      this.fail(req.version === 4 ? Socks4Rep.Rejected : Rep.NotAllowed, undefined, false);
      return;
    }
    if (this.optimistic) {
      const n = this.rt.shared.add(this.rt.shared.ocPending, this.clientAddress, 1);
      this.ocPending = true;
      if (n > this.rt.oc.maxPendingPerClient) {
        this.fail(Rep.GeneralFailure, `too many pending optimistic connects from ${this.clientAddress}`);
        return;
      }
    }
    this.countRule(rule);
    const ruleIo = req.command === 'udpassociate' ? rule.timeout.ioUdp : rule.timeout.ioTcp;
    this.ioMs = ruleIo !== undefined ? ruleIo * 1000 : req.command === 'udpassociate' ? this.rt.ioUdpMs : this.rt.ioTcpMs;
    if (rule.timeout.connect !== undefined && this.deadline !== 0) {
      this.deadline = rule.timeout.connect > 0 ? Date.now() + rule.timeout.connect * 1000 : 0;
    }
    this.phase = req.command === 'connect' ? Phase.Connecting : req.command === 'bind' ? Phase.Bind : Phase.Udp;
    this.hooks.start(this);
  }

  private ocAllowedBy(rule: Rule): boolean {
    if (rule.optimistic !== undefined) return rule.optimistic;
    return this.user !== undefined || this.rt.config.ext.optimistic;
  }

  // ---- early data accounting ----

  private accountEarly(n: number): void {
    if (n === 0) return;
    this.earlyCounted += n;
    const total = this.rt.shared.add(this.rt.shared.earlyBytes, this.clientAddress, n);
    if ((this.queue !== null && this.queue.length >= this.rt.maxEarly) || total >= this.rt.oc.maxEarlyPerClient) {
      // Stop reading: TCP flow control pushes back; overflow is never an error.
      this.client.pause();
    }
  }

  private releaseEarly(): void {
    if (this.earlyCounted > 0) {
      this.rt.shared.add(this.rt.shared.earlyBytes, this.clientAddress, -this.earlyCounted);
      this.earlyCounted = 0;
    }
  }

  /** Hands the queued early data over (once); the session stops buffering. */
  takeEarly(): Buffer {
    const q = this.queue;
    this.queue = null;
    this.releaseEarly();
    return q === null || q.length === 0 ? Buffer.alloc(0) : q.drain();
  }

  /** The connect finished (either way): release the OC pending slot. */
  connectDone(): void {
    if (this.ocPending) {
      this.ocPending = false;
      this.rt.shared.add(this.rt.shared.ocPending, this.clientAddress, -1);
    }
    this.deadline = 0;
  }

  // ---- output ----

  private sendRaw(buf: Buffer): void {
    this.handshakeOut += buf.length;
    this.client.write(buf);
  }

  /** Writes held OC bytes followed by `buf`, as one write. */
  private sendHeld(buf: Buffer): void {
    if (this.held) {
      this.held.push(buf);
      const all = Buffer.concat(this.held);
      this.held = null;
      this.sendRaw(all);
    } else this.sendRaw(buf);
  }

  /** The success (or any) reply for the request, coalesced with held OC bytes. */
  reply(rep: number, bound?: SocksAddress): void {
    if (this.versionHint === 4) this.sendHeld(encodeSocks4Reply(rep, bound));
    else this.sendHeld(encodeSocks5Reply(rep, bound));
  }

  /** Writes `buf` to the client as handshake bytes (BIND's second reply). */
  sendReplyBytes(buf: Buffer): void {
    this.sendRaw(buf);
  }

  /** REP from a Node error code; 09 for timeouts only under OC. */
  repFor(code: string | undefined): number {
    if (this.request?.version === 4) return Socks4Rep.Rejected;
    return errnoToRep(code, this.optimistic ? { timeoutRep: Rep.Timeout } : {});
  }

  /** Reply with REP from an errno and close; early data is dropped. */
  failErrno(code: string | undefined, why: string): void {
    this.fail(this.repFor(code), `${why} (${strerror(code)})`);
  }

  /** Reply REP (SOCKS4 CD) and close; early data is dropped, never parsed. */
  fail(rep: number, why?: string, logIt = true): void {
    if (this.phase === Phase.Closed) return;
    this.dropEarly();
    this.reply(rep);
    if (logIt && why !== undefined) this.logError(why);
    this.close(why ?? 'blocked', true);
  }

  private dropEarly(): void {
    if (this.queue) {
      this.queue = null;
      this.releaseEarly();
    }
  }

  private protocolError(err: ProtocolError): void {
    if (this.phase === Phase.Request && this.versionHint === 5) {
      this.fail(protocolErrorToRep(err.code), err.message);
      return;
    }
    if (this.phase === Phase.Request) {
      this.fail(Socks4Rep.Rejected, err.message);
      return;
    }
    this.negotiationError(err.message);
  }

  /** Dante: `block(N): tcp/accept ]: C S: error after reading N bytes in S seconds: TEXT`. */
  negotiationError(text: string): void {
    if (this.phase === Phase.Closed) return;
    const secs = Math.floor((Date.now() - this.startMs) / 1000);
    const read = this.client.bytesRead;
    if (this.wantsLog(this.clientRule, 'error') || this.wantsLog(this.clientRule, 'connect')) {
      this.rt.log.info(acceptBlocked(this.clientRule?.number ?? 0, this.clientText, this.internalText,
        `error after reading ${read} bytes in ${secs} second${secs === 1 ? '' : 's'}: ${text}`),
      { event: 'negotiate-error', client: this.clientAddress, reason: text });
    }
    this.dropEarly();
    this.close(text, true);
  }

  /** The deadline passed (negotiate or connect). */
  onDeadline(now: number): void {
    if (this.phase < Phase.Resolving) {
      if (this.wantsLog(this.clientRule, 'error') || this.wantsLog(this.clientRule, 'connect')) {
        const secs = Math.round((now - this.startMs) / 1000);
        this.rt.log.info(acceptBlocked(this.clientRule?.number ?? 0, this.clientText, this.internalText,
          `negotiate timeout after ${secs} seconds`), { event: 'negotiate-timeout', client: this.clientAddress });
      }
      this.dropEarly();
      this.close('negotiate timeout', true);
    } else if (this.phase === Phase.Resolving || this.phase === Phase.Connecting) {
      this.failErrno('ETIMEDOUT', 'connect timed out');
    } else if (this.phase === Phase.Udp) {
      this.close('i/o timeout');
    }
  }

  // ---- logging ----

  wantsLog(rule: Rule | undefined, ev: 'connect' | 'disconnect' | 'error' | 'data' | 'iooperation'): boolean {
    return rule === undefined ? ev !== 'data' && ev !== 'iooperation' : rule.log.includes(ev);
  }

  private logBlocked(rule: Rule | undefined, extra?: string): void {
    if (!this.wantsLog(rule, 'connect') && !this.wantsLog(rule, 'error')) return;
    const req = this.request!;
    const proto = req.command === 'udpassociate' ? 'udp' : 'tcp';
    const n = rule?.number ?? 0;
    this.rt.log.info(commandBlocked(n, proto, req.command, this.clientText, this.internalText, this.destText)
      + (extra ? `: ${extra}` : ''), { event: 'block', rule: n, client: this.clientAddress, dest: this.destText });
    if (this.wantsLog(this.clientRule, 'connect') || this.wantsLog(this.clientRule, 'error')) {
      this.rt.log.info(acceptBlocked(this.clientRule?.number ?? 0, this.clientText, this.internalText,
        `blocked by higher-level socks-rule #${n}`));
    }
  }

  private logError(why: string): void {
    const secs = Math.round((Date.now() - this.startMs) / 1000);
    const c = this.counts();
    if (this.socksRule && (this.wantsLog(this.socksRule, 'error') || this.wantsLog(this.socksRule, 'disconnect'))) {
      const req = this.request!;
      this.rt.log.info(commandClosed('pass', this.socksRule.number, req.command === 'udpassociate' ? 'udp' : 'tcp',
        req.command, this.clientText, this.internalText, c.local, this.destText, c, why, secs),
      { event: 'error', client: this.clientAddress, dest: this.destText, reason: why });
    }
    if (this.wantsLog(this.clientRule, 'disconnect') || this.wantsLog(this.clientRule, 'error')) {
      this.logAcceptClosed(why, c, secs);
    }
  }

  /** `pass(N): tcp/connect [: ...` once the command is up. */
  logOpen(local: string, proto = 'tcp'): void {
    const rule = this.socksRule;
    if (!rule || !this.wantsLog(rule, 'connect')) return;
    this.rt.log.info(commandOpen('pass', rule.number, proto, this.request!.command, this.clientText,
      this.internalText, local, this.destText), { event: 'connect', rule: rule.number, client: this.clientAddress, dest: this.destText, user: this.user });
  }

  counts(): ByteCounts & { local: string } {
    const h = this.handler?.counts?.();
    return {
      fromClient: Math.max(0, this.client.bytesRead - this.handshakeIn),
      toClient: Math.max(0, this.client.bytesWritten - this.handshakeOut),
      toDest: h?.toDest ?? 0,
      fromDest: h?.fromDest ?? 0,
      local: h?.local ?? '0.0.0.0.0',
    };
  }

  // ---- teardown ----

  private countRule(rule: Rule): void {
    const k = ruleKey(rule);
    this.rt.shared.add(this.rt.shared.ruleSessions, k, 1);
    this.countedRules.push(k);
  }

  /** Terminal. `quiet` skips the disconnect lines (negotiation failures log their own). */
  close(reason: string, quiet = false): void {
    if (this.phase === Phase.Closed) return;
    const wasUp = this.phase >= Phase.Connecting && this.handler !== undefined;
    this.phase = Phase.Closed;
    this.closeReason = reason;
    this.connectDone();
    this.dropEarly();
    for (const k of this.countedRules) this.rt.shared.add(this.rt.shared.ruleSessions, k, -1);
    this.countedRules = [];
    if (!quiet && wasUp) this.logClosed(reason);
    else if (!quiet && this.wantsLog(this.clientRule, 'disconnect')) this.logAcceptClosed(reason);
    this.handler?.dispose();
    const s = this.client as Tagged;
    s[kSession] = undefined;
    // Flush a pending failure reply, then close; destroy if the peer is gone.
    if (!s.destroyed) {
      if (s.writableLength > 0 && !s.writableEnded) {
        // Let the failure reply drain, keep reading (and dropping) so the peer's FIN is seen.
        s.end();
        s.resume();
        s.setTimeout(10_000, () => s.destroy());
      } else s.destroy();
    }
    this.hooks.closed(this);
  }

  get reason(): string {
    return this.closeReason;
  }

  private logClosed(reason: string): void {
    const rule = this.socksRule;
    const secs = Math.round((Date.now() - this.startMs) / 1000);
    const c = this.counts();
    if (rule && this.wantsLog(rule, 'disconnect')) {
      const req = this.request!;
      this.rt.log.info(commandClosed('pass', rule.number, req.command === 'udpassociate' ? 'udp' : 'tcp', req.command,
        this.clientText, this.internalText, c.local, this.destText, c, reason, secs),
      { event: 'disconnect', rule: rule.number, client: this.clientAddress, dest: this.destText, ...c, reason, seconds: secs });
    }
    if (this.wantsLog(this.clientRule, 'disconnect')) this.logAcceptClosed(reason, c, secs);
  }

  private logAcceptClosed(reason: string, c: ByteCounts = this.counts(), secs = Math.round((Date.now() - this.startMs) / 1000)): void {
    this.rt.log.info(acceptClosed('pass', this.clientRule?.number ?? 0, dotAddr(this.clientAddress, this.clientPort),
      this.internalText, c, reason, secs));
  }
}
