/**
 * One client: an explicit state machine over a ReceiveBuffer ("need N bytes").
 *
 *   Detect -> Greeting -> [Auth] -> Request -> Resolving -> Connecting -> Established
 *                                            \-> Bind / Udp
 *   any -> Closed (terminal)
 *
 * Bytes after the request are early data: kept in the queue (accounted in early-data.ts)
 * and written to the destination only after the connect succeeded. On any failure they are
 * dropped, never re-parsed. Beside it: the rule and limit policy (session-policy.ts), Dante's
 * log lines (session-log.ts), the commands (command.ts) and the socket teardown (teardown.ts).
 *
 * Until its socks-rule passed, a session is judged by the config generation in force when it
 * asks (method selection, password check, socks-rules: a SIGHUP applies at once); from then on
 * it keeps the generation that passed it. Passwords are checked off the event loop (Verifying).
 * Every entry point (socket events, promises, the ticker, the commands' callbacks) runs under
 * guard(): an exception is logged with the client's address and closes this session only.
 */
import type * as net from 'node:net';
import {
  ReceiveBuffer, Command as SocksCommand, Method, ProtocolError, Rep, Socks4Rep, type SocksAddress,
  detectVersion, encodeMethodSelection, encodeSocks4Reply, encodeSocks5Reply, encodeUserPassReply,
  errnoToRep, parseGreeting, parseSocks4Request, parseSocks5Request, parseUserPassRequest,
  protocolErrorToRep, PATH_PROBE_METHOD,
} from '@mptcp-proxy/common';
import type { Command, Rule, SocksMethod } from '../config';
import { type ByteCounts, clientAddr, dotAddr, strerror } from '../log/dante-format';
import type { DanteLog } from '../log/dante-log';
import type { Runtime } from '../runtime';
import { resolveHost, type Resolved } from '../net/resolve';
import { vis } from '../log/vis';
import type { AuthVerdict } from '../auth/authenticator';
import type { CommandHandler, Peer, SessionControl } from './command';
import { createCommand } from './commands';
import { EarlyDataAccount } from './early-data';
import { selectMethod, type MethodChoice } from './method-select';
import type { Request } from './request';
import { SessionLog, type SessionFacts } from './session-log';
import { type SessionTickets, judgeRequest } from './session-policy';
import { closeClientSocket } from './teardown';
import { tlsCertUser } from '../auth/tls-user';
import { connAccepted, connClosed, connNegotiated, connRelaying, optimisticChannel, type ConnOutcome, type ConnRef } from '../events';

export const enum Phase {
  Detect,
  Greeting,
  Auth,
  /** The password is being checked (off the event loop); bytes that arrive wait in the queue. */
  Verifying,
  Request,
  Resolving,
  Connecting,
  Established,
  Bind,
  Udp,
  Closed,
}

const PHASE_NAMES = ['detect', 'greeting', 'auth', 'verifying', 'request', 'resolving', 'connecting', 'established', 'bind', 'udp', 'closed'];

export interface SessionHooks {
  /** Called when the session is gone (server bookkeeping). */
  closed(session: Session): void;
}

export interface SessionOptions {
  /** The config generation in force now (the server's current one). */
  current: () => Runtime;
  /** The client-rule that passed the connection at accept. */
  clientRule: Rule | undefined;
  /** What the accept took from the shared counters (the client-rule's limits). */
  tickets: SessionTickets;
  /** timeout.negotiate for this client, ms (0 = none). */
  negotiateMs: number;
  hooks: SessionHooks;
}

const kSession = Symbol('socks-session');
type Tagged = net.Socket & { [kSession]?: Session };

// Shared listeners (no per-connection listener closures), each guarded.
function withSession(sock: Tagged, call: (s: Session) => void): void {
  const s = sock[kSession];
  if (s === undefined) return;
  try {
    call(s);
  } catch (e) {
    s.bug(e);
  }
}
function onData(this: Tagged, chunk: Buffer): void {
  withSession(this, (s) => s.onData(chunk));
}
function onEnd(this: Tagged): void {
  withSession(this, (s) => s.onClientEnd());
}
function onError(this: Tagged, err: Error): void {
  withSession(this, (s) => s.onClientError(err as NodeJS.ErrnoException));
}
function onClose(this: Tagged): void {
  withSession(this, (s) => s.onClientClose());
}

/** An exception's text for one log line (escaped: its message may quote peer data). */
function describe(e: unknown): string {
  return vis(e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e));
}

export class Session implements SessionControl, SessionFacts, Peer {
  private phase = Phase.Detect;
  readonly client: net.Socket;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly startMs = Date.now();
  /** Absolute ms for the negotiate/connect/idle deadline (0 = none); the server's ticker checks it. */
  deadline = 0;
  private queue: ReceiveBuffer | null = new ReceiveBuffer();
  private readonly early: EarlyDataAccount;
  private readonly tickets: SessionTickets;
  private readonly logger = new SessionLog(this);
  private choice: MethodChoice | undefined;
  private method: SocksMethod = 'none';
  private versionHint: 4 | 5 = 5;
  user: string | undefined;
  /** The user's groups, looked up when a rule names a group. */
  private groups: string[] | undefined;
  request: Request | undefined;
  socksRule: Rule | undefined;
  private handler: CommandHandler | undefined;
  /** Handshake bytes read from / written to the client (not data). */
  private handshakeIn = 0;
  private handshakeOut = 0;
  /** OC: method selection and auth status held back to go out with the reply. */
  private held: Buffer[] | null = null;
  private closeReason = '';
  /** What the closed event reports (events.ts); undefined until something decides it. */
  private outcome: ConnOutcome | undefined;
  private outcomeCode: string | undefined;
  /** The client's EOF came while its password was being checked. */
  private clientEnded = false;
  /** The generation whose socks-rules passed this session (then it is used for everything). */
  private judgedBy: Runtime | undefined;
  private readonly current: () => Runtime;
  readonly clientRule: Rule | undefined;
  private readonly hooks: SessionHooks;

  constructor(socket: net.Socket, o: SessionOptions) {
    this.client = socket;
    this.current = o.current;
    this.clientRule = o.clientRule;
    this.tickets = o.tickets;
    this.hooks = o.hooks;
    this.clientAddress = socket.remoteAddress ?? '0.0.0.0';
    this.clientPort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '0.0.0.0';
    this.localPort = socket.localPort ?? 0;
    const rt = o.current();
    this.early = new EarlyDataAccount(rt.shared, this.clientAddress, rt.maxEarly, rt.oc.maxEarlyPerClient, () => socket.pause());
    if (o.negotiateMs > 0) this.deadline = this.startMs + o.negotiateMs;
    (socket as Tagged)[kSession] = this;
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    if (connAccepted.hasSubscribers) connAccepted.publish(this.ref());
  }

  /** The connection as events.ts names it. */
  ref(): ConnRef {
    return { client: dotAddr(this.clientAddress, this.clientPort), internal: dotAddr(this.localAddress, this.localPort) };
  }

  /** The first verdict on how this session ends wins (events.ts). */
  settle(outcome: ConnOutcome, code: string | undefined): void {
    if (this.outcome !== undefined) return;
    this.outcome = outcome;
    this.outcomeCode = code;
  }

  // ---- what the log lines and the client list read ----

  /** The generation in force for this session: the current one until its socks-rule passed. */
  get rt(): Runtime {
    return this.judgedBy ?? this.current();
  }

  get log(): DanteLog {
    return this.rt.log;
  }

  get phaseName(): string {
    return PHASE_NAMES[this.phase];
  }

  get closed(): boolean {
    return this.phase === Phase.Closed;
  }

  get clientText(): string {
    return clientAddr(this.clientAddress, this.clientPort, this.user);
  }

  get internalText(): string {
    return dotAddr(this.localAddress, this.localPort);
  }

  get destText(): string {
    const a = this.request?.address;
    return a ? dotAddr(a.host, a.port) : '0.0.0.0.0';
  }

  get bytesRead(): number {
    return this.client.bytesRead;
  }

  get reason(): string {
    return this.closeReason;
  }

  private get optimistic(): boolean {
    return this.choice?.optimistic === true;
  }

  counts(): ByteCounts & { local: string } {
    const h = this.handler?.counts();
    return {
      fromClient: Math.max(0, this.client.bytesRead - this.handshakeIn),
      toClient: Math.max(0, this.client.bytesWritten - this.handshakeOut),
      toDest: h?.toDest ?? 0,
      fromDest: h?.fromDest ?? 0,
      local: h?.local ?? '0.0.0.0.0',
    };
  }

  // ---- guard: one session's bug never takes the others down ----

  /** `fn` with exceptions logged (with the client) and this session closed; for every callback. */
  guard<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      try {
        fn(...args);
      } catch (e) {
        this.bug(e);
      }
    };
  }

  /** An exception escaped a handler: log it with the peer, close this session only. */
  bug(e: unknown): void {
    try {
      this.log.error(`internal error in the session of client ${dotAddr(this.clientAddress, this.clientPort)} `
        + `(${this.phaseName}): ${describe(e)}`, { event: 'internal-error', client: this.clientAddress });
    } finally {
      this.close('internal error');
    }
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
      this.early.add(chunk.length, q.length);
      return;
    }
    if (this.phase === Phase.Verifying) {
      // The request (and maybe early data) may arrive during the check: bounded, then TCP pushes back.
      if (q.length >= this.rt.maxEarly) this.client.pause();
      return;
    }
    this.advance();
  }

  onClientEnd(): void {
    if (this.phase === Phase.Closed || this.phase === Phase.Established) return;
    if (this.handler?.onClientEnd) {
      this.handler.onClientEnd();
      return;
    }
    if (this.phase === Phase.Verifying) {
      // The request may be queued already: decided once the password check is over.
      this.clientEnded = true;
      return;
    }
    if (this.phase < Phase.Resolving) {
      this.negotiationError('eof from local client');
      return;
    }
    // EOF while connecting: the early data stays; the relay passes the EOF on later.
  }

  onClientError(err: NodeJS.ErrnoException): void {
    // Once relaying, the relay owns errors and close.
    if (this.phase === Phase.Closed || this.phase === Phase.Established) return;
    this.settle(this.phase < Phase.Resolving ? 'negotiation' : 'failed', err.code);
    this.close(`local client error (${strerror(err.code)})`);
  }

  onClientClose(): void {
    if (this.phase !== Phase.Established) this.close('local client closed');
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
      if (e instanceof ProtocolError) this.protocolError(e);
      else this.bug(e);
    }
  }

  private stepDetect(): void {
    const v = detectVersion(this.queue!.peek(1));
    if (v === null) return;
    this.phase = v === 5 ? Phase.Greeting : Phase.Request;
    this.request = undefined;
    if (v === 4) this.versionHint = 4;
  }

  private stepGreeting(): void {
    const q = this.queue!;
    const g = parseGreeting(q.peek());
    if (g === null) return;
    q.consume(g.length);
    this.handshakeIn += g.length;
    if (g.methods.length === 1 && g.methods[0] === PATH_PROBE_METHOD) {
      // redsocks-ts checking that a WAN path reaches us: not a blocked connection.
      this.debug('WAN path probe');
      this.sendRaw(encodeMethodSelection(Method.NoAcceptable));
      this.dropEarly();
      this.close('path probe', true);
      return;
    }
    // A verified client certificate stands in for RFC 1929 (auth/tls-user.ts): where the server
    // asks for username, such a client may take a no-authentication method as the cert's user.
    const certUser = tlsCertUser(this.client);
    const base = this.rt.policy;
    const policy = certUser !== undefined && base.socksMethods.includes('username') && !base.socksMethods.includes('none')
      ? { ...base, socksMethods: ['none' as const, ...base.socksMethods] } : base;
    const choice = selectMethod(g.methods, policy);
    this.choice = choice;
    if (choice.wire === Method.NoAcceptable) {
      this.sendRaw(encodeMethodSelection(Method.NoAcceptable));
      this.negotiationError('client offered no acceptable authentication method');
      return;
    }
    this.method = choice.method!;
    if (policy !== base && choice.method === 'none') {
      this.method = 'username';
      this.user = certUser;
    }
    if (optimisticChannel.hasSubscribers) {
      const policy = this.rt.policy;
      if (g.methods.includes(policy.ocMethod) || g.methods.includes(policy.ocAuthMethod)) {
        optimisticChannel.publish({ ...this.ref(), verdict: choice.optimistic ? 'accepted' : 'declined' });
      }
    }
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
    const rt = this.rt;
    const user = a.username.toString('utf8');
    const password = a.password.toString('utf8');
    const nul = a.username.includes(0) || a.password.includes(0);
    a.password.fill(0);
    const what = rt.auth?.kind === 'passwordfile' ? 'password file' : 'system password';
    // C would stop at a NUL ("root\0zzz" is root): refused, never truncated, never looked up.
    if (nul) {
      this.loginFailed(`${what} authentication failed for user "${vis(user)}": NUL byte in the user name or password`, false);
      return;
    }
    if (rt.auth === undefined) {
      this.loginFailed(`${what} authentication failed for user "${vis(user)}": no authenticator`, false);
      return;
    }
    if (!rt.shared.logins.allowed(this.clientAddress, rt.authFailures)) {
      this.loginFailed(`${what} authentication refused for user "${vis(user)}": too many failed logins from ${this.clientAddress}`, false);
      return;
    }
    this.phase = Phase.Verifying;
    rt.auth.verify(user, password).then(this.guard((v: AuthVerdict) => {
      if (this.phase !== Phase.Verifying) return;
      if (!v.ok) {
        this.loginFailed(`${what} authentication failed for user "${vis(user)}": ${v.why}`, true);
        return;
      }
      this.user = user;
      rt.shared.recentAuth.set(this.clientAddress, Date.now());
      const reply = encodeUserPassReply(0);
      if (this.held) this.held.push(reply);
      else this.sendRaw(reply);
      this.phase = Phase.Request;
      this.client.resume();
      this.advance();
      if (this.clientEnded && this.phase < Phase.Resolving) this.negotiationError('eof from local client');
    }));
  }

  /** RFC 1929 status 1, then the negotiation ends; `counts`: a failure against the source's limit. */
  private loginFailed(text: string, counts: boolean): void {
    if (counts) this.rt.shared.logins.failed(this.clientAddress, this.rt.authFailures);
    this.sendHeld(encodeUserPassReply(1));
    this.negotiationError(text);
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
      req = { version: 4, command: command ?? 'connect', address: r.address };
      this.request = req;
      if (command === undefined) {
        this.fail(Socks4Rep.Rejected, `unknown SOCKS4 command ${r.command}`);
        return;
      }
      if (!this.rt.config.socksMethod.includes('none')) {
        this.fail(Socks4Rep.Rejected, 'SOCKS4 request, but method "none" is not enabled');
        return;
      }
    } else {
      const r = parseSocks5Request(q.peek());
      if (r === null) return;
      q.consume(r.length);
      this.handshakeIn += r.length;
      const command: Command | undefined =
        r.command === SocksCommand.Connect ? 'connect'
          : r.command === SocksCommand.Bind ? 'bind'
            : r.command === SocksCommand.UdpAssociate ? 'udpassociate' : undefined;
      req = { version: 5, command: command ?? 'connect', address: r.address };
      this.request = req;
      if (command === undefined) {
        this.fail(Rep.CommandNotSupported, `unknown command ${r.command}`);
        return;
      }
    }
    this.phase = Phase.Resolving;
    // Everything still queued is early data from here on.
    this.early.add(q.length, q.length);
    this.deadline = this.rt.connectMs > 0 ? Date.now() + this.rt.connectMs : 0;
    if (req.address.type === 'domain' && req.command !== 'udpassociate') {
      resolveHost(req.address.host, this.rt.connectMs).then(
        this.guard((r: Resolved) => {
          if (this.phase !== Phase.Resolving) return;
          req.target = { ip: r.address, family: r.family };
          this.checkRules(req);
        }),
        this.guard((err: NodeJS.ErrnoException) => {
          if (this.phase !== Phase.Resolving) return;
          this.failErrno(err.code, `could not resolve ${vis(req.address.host)}`);
        }),
      );
    } else {
      if (req.address.type !== 'domain') req.target = { ip: req.address.host, family: req.address.type === 'ipv6' ? 6 : 4 };
      this.checkRules(req);
    }
  }

  /** socks-rules after the request (session-policy.ts), then the command. */
  private checkRules(req: Request): void {
    const rt = this.current();
    if (rt.needsGroups && this.user !== undefined && this.groups === undefined) {
      rt.shared.groups.get(this.user).then(this.guard((g: string[]) => {
        if (this.phase !== Phase.Resolving) return;
        this.groups = g;
        this.checkRules(req);
      }));
      return;
    }
    // The generation in force now judges the request, and stays with the session from here on.
    this.judgedBy = rt;
    const j = judgeRequest(rt, {
      clientAddress: this.clientAddress, clientPort: this.clientPort, localAddress: this.localAddress, localPort: this.localPort,
      method: this.method, user: this.user, groups: this.groups, optimistic: this.optimistic, request: req,
    }, this.clientRule, this.tickets);
    this.socksRule = j.rule;
    if (j.verdict === 'block') {
      this.settle('blocked', `REP_${j.rep}`);
      this.logger.blocked(req, j.rule, j.extra);
      this.fail(j.rep, undefined, false);
      return;
    }
    if (j.verdict === 'fail') {
      this.fail(j.rep, j.why);
      return;
    }
    if (j.connectMs !== undefined && this.deadline !== 0) this.deadline = j.connectMs > 0 ? Date.now() + j.connectMs : 0;
    this.phase = req.command === 'connect' ? Phase.Connecting : req.command === 'bind' ? Phase.Bind : Phase.Udp;
    if (connNegotiated.hasSubscribers) {
      connNegotiated.publish({ ...this.ref(), method: this.method, optimistic: this.optimistic, command: req.command, ms: Date.now() - this.startMs });
    }
    const handler = createCommand({
      rt, request: req, rule: j.rule, peer: this, method: this.method, user: this.user, groups: this.groups,
      ioMs: j.ioMs, finWaitMs: j.finWaitMs,
      session: this,
    });
    this.handler = handler;
    handler.start();
  }

  // ---- SessionControl: what the command may do ----

  takeEarly(): Buffer {
    const q = this.queue;
    this.queue = null;
    this.early.release();
    return q === null || q.length === 0 ? Buffer.alloc(0) : q.drain();
  }

  connectDone(): void {
    this.tickets.releaseOcSlot();
    this.deadline = 0;
  }

  established(): void {
    this.phase = Phase.Established;
    if (connRelaying.hasSubscribers) connRelaying.publish(this.ref());
    this.client.removeListener('data', onData);
  }

  idleIn(ms: number): void {
    this.deadline = ms > 0 ? Date.now() + ms : 0;
  }

  debug(text: string): void {
    if (this.log.debugEnabled) this.log.debug(`${dotAddr(this.clientAddress, this.clientPort)}: ${text}`);
  }

  logOpen(local: string, proto: 'tcp' | 'udp' = 'tcp'): void {
    this.logger.open(local, proto);
  }

  reply(rep: number, bound?: SocksAddress): void {
    if (this.versionHint === 4) this.sendHeld(encodeSocks4Reply(rep, bound));
    else this.sendHeld(encodeSocks5Reply(rep, bound));
  }

  sendReplyBytes(buf: Buffer): void {
    this.sendRaw(buf);
  }

  failErrno(code: string | undefined, why: string): void {
    this.fail(this.repFor(code), `${why} (${strerror(code)})`);
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

  /** REP from a Node error code; 09 for timeouts only under OC. */
  private repFor(code: string | undefined): number {
    if (this.request?.version === 4) return Socks4Rep.Rejected;
    return errnoToRep(code, this.optimistic ? { timeoutRep: Rep.Timeout } : {});
  }

  /** Reply REP (SOCKS4 CD) and close; early data is dropped, never parsed. */
  private fail(rep: number, why?: string, logIt = true): void {
    if (this.phase === Phase.Closed) return;
    this.settle('failed', `REP_${rep}`);
    this.dropEarly();
    this.reply(rep);
    if (logIt && why !== undefined) this.logger.error(why);
    this.close(why ?? 'blocked', true);
  }

  private dropEarly(): void {
    if (this.queue) {
      this.queue = null;
      this.early.release();
    }
  }

  private protocolError(err: ProtocolError): void {
    this.settle(this.phase === Phase.Request ? 'failed' : 'negotiation', err.code);
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

  private negotiationError(text: string): void {
    if (this.phase === Phase.Closed) return;
    this.settle('negotiation', 'ENEGOTIATE');
    this.logger.negotiationError(text);
    this.dropEarly();
    this.close(text, true);
  }

  /** The deadline passed (negotiate, connect or UDP idle). */
  onDeadline(now: number): void {
    if (this.phase < Phase.Resolving) {
      this.settle('negotiation', 'ETIMEOUT_NEGOTIATE');
      this.logger.negotiateTimeout(now);
      this.dropEarly();
      this.close('negotiate timeout', true);
    } else if (this.phase === Phase.Resolving || this.phase === Phase.Connecting) {
      this.failErrno('ETIMEDOUT', 'connect timed out');
    } else if (this.phase === Phase.Udp) {
      this.settle('ok', 'ETIMEOUT_IO');
      this.close('i/o timeout');
    } else if (this.phase === Phase.Established) {
      this.settle('error', 'ETIMEOUT_FIN_WAIT');
      // Only a half-closed relay arms it (timeout.tcp_fin_wait).
      this.close('tcp_fin_wait timeout');
    }
  }

  // ---- teardown ----

  /** Terminal. `quiet` skips the disconnect lines (negotiation failures log their own). */
  close(reason: string, quiet = false): void {
    if (this.phase === Phase.Closed) return;
    const wasUp = this.phase >= Phase.Connecting && this.handler !== undefined;
    const established = this.phase === Phase.Established || this.phase === Phase.Bind || this.phase === Phase.Udp;
    this.phase = Phase.Closed;
    if (connClosed.hasSubscribers) {
      const c = this.counts();
      const outcome = this.outcome ?? (established ? 'ok' : 'negotiation');
      connClosed.publish({ ...this.ref(), outcome, code: this.outcomeCode, bytesIn: c.toDest, bytesOut: c.fromDest, ms: Date.now() - this.startMs });
    }
    this.closeReason = reason;
    this.connectDone();
    this.dropEarly();
    this.tickets.releaseAll();
    if (!quiet && wasUp) this.logger.closed(reason);
    else if (!quiet) this.logger.acceptClosedIfWanted(reason);
    this.handler?.dispose();
    (this.client as Tagged)[kSession] = undefined;
    closeClientSocket(this.client);
    this.hooks.closed(this);
  }
}
