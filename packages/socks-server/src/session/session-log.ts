/**
 * Dante's log lines for one session (log/dante-format.ts builds the text): accept and
 * request verdicts, negotiation errors and timeouts, the open line and the close lines
 * with byte counts. Each line is written only when the rule's `log:` asks for it.
 */
import type { Rule } from '../config';
import {
  type ByteCounts, acceptBlocked, acceptClosed, commandBlocked, commandClosed, commandOpen, dotAddr,
} from '../log/dante-format';
import type { DanteLog } from '../log/dante-log';
import type { Request } from './request';

export type LogEventName = 'connect' | 'disconnect' | 'error' | 'data' | 'iooperation';

/** A rule without a `log:` of its own (the implicit block) logs connects, disconnects and errors. */
export function wantsLog(rule: Rule | undefined, ev: LogEventName): boolean {
  return rule === undefined ? ev !== 'data' && ev !== 'iooperation' : rule.log.includes(ev);
}

/** What the lines are made of, read from the session when a line is written. */
export interface SessionFacts {
  readonly log: DanteLog;
  readonly clientRule: Rule | undefined;
  readonly socksRule: Rule | undefined;
  readonly request: Request | undefined;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly clientText: string;
  readonly internalText: string;
  readonly destText: string;
  readonly user: string | undefined;
  readonly startMs: number;
  /** Bytes read from the client so far (the socket's count). */
  readonly bytesRead: number;
  counts(): ByteCounts & { local: string };
}

function proto(req: Request): 'udp' | 'tcp' {
  return req.command === 'udpassociate' ? 'udp' : 'tcp';
}

export class SessionLog {
  constructor(private readonly s: SessionFacts) {}

  private seconds(round: (x: number) => number = Math.round): number {
    return round((Date.now() - this.s.startMs) / 1000);
  }

  private clientLogs(...evs: LogEventName[]): boolean {
    return evs.some((ev) => wantsLog(this.s.clientRule, ev));
  }

  /** Dante: `block(N): tcp/accept ]: C S: error after reading N bytes in S seconds: TEXT`. */
  negotiationError(text: string): void {
    const s = this.s;
    if (!this.clientLogs('error', 'connect')) return;
    const secs = this.seconds(Math.floor);
    s.log.info(acceptBlocked(s.clientRule?.number ?? 0, s.clientText, s.internalText,
      `error after reading ${s.bytesRead} bytes in ${secs} second${secs === 1 ? '' : 's'}: ${text}`),
    { event: 'negotiate-error', client: s.clientAddress, reason: text });
  }

  negotiateTimeout(now: number): void {
    const s = this.s;
    if (!this.clientLogs('error', 'connect')) return;
    const secs = Math.round((now - s.startMs) / 1000);
    s.log.info(acceptBlocked(s.clientRule?.number ?? 0, s.clientText, s.internalText, `negotiate timeout after ${secs} seconds`),
      { event: 'negotiate-timeout', client: s.clientAddress });
  }

  blocked(req: Request, rule: Rule | undefined, extra?: string): void {
    const s = this.s;
    if (!wantsLog(rule, 'connect') && !wantsLog(rule, 'error')) return;
    const n = rule?.number ?? 0;
    s.log.info(commandBlocked(n, proto(req), req.command, s.clientText, s.internalText, s.destText)
      + (extra ? `: ${extra}` : ''), { event: 'block', rule: n, client: s.clientAddress, dest: s.destText });
    if (this.clientLogs('connect', 'error')) {
      s.log.info(acceptBlocked(s.clientRule?.number ?? 0, s.clientText, s.internalText, `blocked by higher-level socks-rule #${n}`));
    }
  }

  error(why: string): void {
    const s = this.s;
    const secs = this.seconds();
    const c = s.counts();
    const rule = s.socksRule;
    const req = s.request;
    if (rule && req && (wantsLog(rule, 'error') || wantsLog(rule, 'disconnect'))) {
      s.log.info(commandClosed('pass', rule.number, proto(req), req.command, s.clientText, s.internalText, c.local, s.destText, c, why, secs),
        { event: 'error', client: s.clientAddress, dest: s.destText, reason: why });
    }
    if (this.clientLogs('disconnect', 'error')) this.acceptClosed(why, c, secs);
  }

  /** `pass(N): tcp/connect [: ...` once the command is up. */
  open(local: string, protoName = 'tcp'): void {
    const s = this.s;
    const rule = s.socksRule;
    const req = s.request;
    if (!rule || !req || !wantsLog(rule, 'connect')) return;
    s.log.info(commandOpen('pass', rule.number, protoName, req.command, s.clientText, s.internalText, local, s.destText),
      { event: 'connect', rule: rule.number, client: s.clientAddress, dest: s.destText, user: s.user });
  }

  /** The close lines of a session whose command was up. */
  closed(reason: string): void {
    const s = this.s;
    const rule = s.socksRule;
    const secs = this.seconds();
    const c = s.counts();
    const req = s.request;
    if (rule && req && wantsLog(rule, 'disconnect')) {
      s.log.info(commandClosed('pass', rule.number, proto(req), req.command, s.clientText, s.internalText, c.local, s.destText, c, reason, secs),
        { event: 'disconnect', rule: rule.number, client: s.clientAddress, dest: s.destText, ...c, reason, seconds: secs });
    }
    if (this.clientLogs('disconnect')) this.acceptClosed(reason, c, secs);
  }

  /** The close line of a session that never got a command up. */
  acceptClosedIfWanted(reason: string): void {
    if (this.clientLogs('disconnect')) this.acceptClosed(reason);
  }

  private acceptClosed(reason: string, c: ByteCounts = this.s.counts(), secs = this.seconds()): void {
    const s = this.s;
    s.log.info(acceptClosed('pass', s.clientRule?.number ?? 0, dotAddr(s.clientAddress, s.clientPort), s.internalText, c, reason, secs));
  }
}
