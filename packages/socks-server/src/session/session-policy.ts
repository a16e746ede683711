/**
 * Rule and limit policy: the socks-rules for a request, optimistic connect per rule, Dante's
 * session limits (session.max, session.throttle and, with session.state.key: from, the same per
 * client address: session.state.max, session.state.throttle) and the per-client cap on pending
 * optimistic connects. What a session takes from the shared counters is held in its
 * SessionTickets and given back once, at teardown.
 *
 * Limits are checked when a rule matches: a client-rule's at accept, a socks-rule's after the
 * request. As in Dante, a client-rule's limit goes on covering the session through the socks
 * stage, unless the socks-rule that passes it sets limits of its own: then the session moves
 * from the client-rule's counters to the socks-rule's.
 */
import { Rep, Socks4Rep } from '@mptcp-proxy/common';
import type { MatchContext, Rule, SocksMethod } from '../config';
import { matchRule } from '../config';
import { ruleKey, type Runtime, type SharedState } from '../runtime';
import { vis } from '../log/vis';
import type { CommandContext } from './command';
import type { Request } from './request';

export class SessionTickets {
  private keys: string[] = [];
  /** The ocPending key this session counts under (client and destination), while its connect is pending. */
  private ocSlot: string | undefined;

  constructor(
    private readonly shared: SharedState,
    private readonly clientAddress: string,
  ) {}

  /** The session counts under `key` in ruleSessions until teardown (or until released). */
  count(key: string): void {
    this.shared.add(this.shared.ruleSessions, key, 1);
    this.keys.push(key);
  }

  /** Gives back what was counted for `rule` (the session moved to another rule's limits). */
  releaseRule(rule: Rule): void {
    const k = ruleKey(rule);
    this.keys = this.keys.filter((key) => {
      if (key !== k && !key.startsWith(`${k} `)) return true;
      this.shared.add(this.shared.ruleSessions, key, -1);
      return false;
    });
  }

  /**
   * Takes a pending-OC slot for this client and destination; returns how many they now have.
   * Per destination: a client (a whole LAN behind redsocks-ts) with connects hanging on a dead
   * destination must not be refused everywhere else.
   */
  takeOcSlot(destination: string): number {
    this.ocSlot = `${this.clientAddress} ${destination}`;
    return this.shared.add(this.shared.ocPending, this.ocSlot, 1);
  }

  /** The connect finished (either way). */
  releaseOcSlot(): void {
    if (this.ocSlot !== undefined) {
      this.shared.add(this.shared.ocPending, this.ocSlot, -1);
      this.ocSlot = undefined;
    }
  }

  releaseAll(): void {
    this.releaseOcSlot();
    for (const k of this.keys) this.shared.add(this.shared.ruleSessions, k, -1);
    this.keys = [];
  }
}

/** Does the rule set any session limit? */
export function hasSessionLimits(rule: Rule): boolean {
  const s = rule.session;
  return s.max !== undefined || s.throttle !== undefined || s.stateMax !== undefined || s.stateThrottle !== undefined;
}

type Rate = { count: number; seconds: number };

/** Dante's throttle: a fixed window opened by the first session; `count` sessions per window. */
function windowOpen(shared: SharedState, key: string, rate: Rate, now: number): boolean {
  const w = shared.throttles.get(key);
  return w === undefined || now - w.start >= rate.seconds * 1000 || w.count < rate.count;
}

function windowTake(shared: SharedState, key: string, rate: Rate, now: number): void {
  const w = shared.throttles.get(key);
  if (w === undefined || now - w.start >= rate.seconds * 1000) shared.throttles.set(key, { start: now, count: 1 });
  else w.count++;
}

/** Throttle windows that closed; the server's ticker calls this now and then. */
export function sweepThrottles(shared: SharedState, rules: readonly Rule[], now: number): void {
  const longest = Math.max(0, ...rules.map((r) => Math.max(r.session.throttle?.seconds ?? 0, r.session.stateThrottle?.seconds ?? 0)));
  for (const [k, w] of shared.throttles) if (now - w.start >= longest * 1000) shared.throttles.delete(k);
}

/**
 * Takes a session under `rule`'s limits for a client at `clientAddress`; returns why not when
 * a limit is reached (nothing is taken then).
 */
export function admitSession(shared: SharedState, rule: Rule, clientAddress: string, tickets: SessionTickets, now: number): string | undefined {
  const s = rule.session;
  const key = ruleKey(rule);
  const perClient = s.stateKey === 'from' ? `${key} ${clientAddress}` : undefined;
  const active = (k: string): number => shared.ruleSessions.get(k) ?? 0;
  if (s.max !== undefined && active(key) >= s.max) return `session limit of ${s.max} reached`;
  if (perClient !== undefined && s.stateMax !== undefined && active(perClient) >= s.stateMax) {
    return `session limit of ${s.stateMax} per client address reached`;
  }
  if (s.throttle && !windowOpen(shared, key, s.throttle, now)) {
    return `session throttle of ${s.throttle.count} per ${s.throttle.seconds}s reached`;
  }
  if (perClient !== undefined && s.stateThrottle && !windowOpen(shared, perClient, s.stateThrottle, now)) {
    return `session throttle of ${s.stateThrottle.count} per ${s.stateThrottle.seconds}s per client address reached`;
  }
  if (s.throttle) windowTake(shared, key, s.throttle, now);
  if (perClient !== undefined && s.stateThrottle) windowTake(shared, perClient, s.stateThrottle, now);
  tickets.count(key);
  if (perClient !== undefined) tickets.count(perClient);
  return undefined;
}

/** What the rules are matched against, from the session. */
export interface RequestFacts {
  clientAddress: string;
  clientPort: number;
  localAddress: string;
  localPort: number;
  method: SocksMethod;
  user: string | undefined;
  /** The user's groups, when a rule names one. */
  groups: string[] | undefined;
  optimistic: boolean;
  request: Request;
}

export type Judgement =
  /** Blocked by a rule (or the implicit default): Dante's block line, REP 02 / 91. */
  | { verdict: 'block'; rule: Rule | undefined; rep: number; extra?: string }
  /** Refused for a reason that is not a rule: logged as an error. */
  | { verdict: 'fail'; rule: Rule; rep: number; why: string }
  | { verdict: 'pass'; rule: Rule; ioMs: number; finWaitMs: number; connectMs: number | undefined };

export function matchContextFor(f: RequestFacts): MatchContext {
  const req = f.request;
  return {
    clientAddress: f.clientAddress,
    clientPort: f.clientPort,
    serverAddress: f.localAddress,
    serverPort: f.localPort,
    command: req.command,
    protocol: req.command === 'udpassociate' ? 'udp' : 'tcp',
    proxyProtocol: req.version === 4 ? 'socks_v4' : 'socks_v5',
    method: f.method,
    user: f.user,
    groups: f.groups,
    dest: { host: req.address.host, port: req.address.port },
    destAddresses: req.target !== undefined && req.target.ip !== req.address.host ? [req.target.ip] : undefined,
  };
}

/**
 * socks-rules for what a running command sees: a BIND's incoming connection (bindreply), a UDP
 * datagram from the client (udpassociate) or to it (udpreply). With `srchost: checkreplyauth`
 * a reply must also pass the rule's methods, and replies can only authenticate as "none".
 */
export function commandAllows(ctx: CommandContext, command: 'bindreply' | 'udpassociate' | 'udpreply',
  dest: { host: string; port: number }, destAddresses?: string[]): boolean {
  const { peer, request, rt } = ctx;
  const m = matchRule(rt.config.socksRules, {
    clientAddress: peer.clientAddress, clientPort: peer.clientPort,
    serverAddress: peer.localAddress, serverPort: peer.localPort,
    command, protocol: command === 'bindreply' ? 'tcp' : 'udp', proxyProtocol: request.version === 4 ? 'socks_v4' : 'socks_v5',
    method: ctx.method, user: ctx.user, groups: ctx.groups, dest, destAddresses,
  }, rt.sys);
  if (!m.pass) return false;
  if (command !== 'udpassociate' && rt.config.srchost.includes('checkreplyauth')) {
    return (m.rule?.socksMethod ?? rt.config.socksMethod).includes('none');
  }
  return true;
}

function ocAllowedBy(rt: Runtime, rule: Rule, user: string | undefined): boolean {
  if (rule.optimistic !== undefined) return rule.optimistic;
  return user !== undefined || rt.config.ext.optimistic;
}

/**
 * socks-rules after the request: command, destination, user, method; then the limits.
 * `clientRule`: the client-rule that passed the session at accept (its limits are inherited).
 */
export function judgeRequest(rt: Runtime, f: RequestFacts, clientRule: Rule | undefined, tickets: SessionTickets): Judgement {
  const req = f.request;
  const blockedRep = req.version === 4 ? Socks4Rep.Rejected : Rep.NotAllowed;
  const m = matchRule(rt.config.socksRules, matchContextFor(f), rt.sys);
  if (!m.pass) return { verdict: 'block', rule: m.rule, rep: blockedRep };
  const rule = m.rule!;
  if (f.optimistic && !ocAllowedBy(rt, rule, f.user)) {
    return { verdict: 'block', rule, rep: Rep.NotAllowed, extra: 'optimistic connect not allowed by this rule' };
  }
  if (hasSessionLimits(rule)) {
    const over = admitSession(rt.shared, rule, f.clientAddress, tickets, Date.now());
    if (over !== undefined) return { verdict: 'block', rule, rep: blockedRep, extra: over };
    if (clientRule !== undefined) tickets.releaseRule(clientRule);
  }
  const dest = `${req.target?.ip ?? req.address.host}.${req.address.port}`;
  if (f.optimistic && tickets.takeOcSlot(dest) > rt.oc.maxPendingPerClient) {
    return { verdict: 'fail', rule, rep: Rep.GeneralFailure, why: `too many pending optimistic connects from ${f.clientAddress} to ${vis(dest)}` };
  }
  const udp = req.command === 'udpassociate';
  const ruleIo = udp ? rule.timeout.ioUdp : rule.timeout.ioTcp;
  const ioMs = ruleIo !== undefined ? ruleIo * 1000 : udp ? rt.ioUdpMs : rt.ioTcpMs;
  const connectMs = rule.timeout.connect !== undefined ? rule.timeout.connect * 1000 : undefined;
  const finWaitMs = (rule.timeout.tcpFinWait ?? rt.config.timeout.tcpFinWait) * 1000;
  return { verdict: 'pass', rule, ioMs, finWaitMs, connectMs };
}
