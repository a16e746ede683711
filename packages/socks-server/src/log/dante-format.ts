/**
 * Dante's log line shapes, as the real danted 1.4.2 writes them (captured in
 * test/fixtures/danted-log-*.txt). Pure string builders, no I/O.
 */
import { secUsecStamp } from '@mptcp-proxy/common';
import { vis } from './vis';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `Nov 25 17:04:21 (1795626261.585310) danted[7549]: info: ` */
export function danteLinePrefix(level: string, nowMs: number, pid: number, ident = 'danted'): string {
  const d = new Date(nowMs);
  const day = d.getDate();
  const stamp = `${MONTHS[d.getMonth()]} ${day < 10 ? ` ${day}` : day} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  return `${stamp} (${secUsecStamp(nowMs)}) ${ident}[${pid}]: ${level}: `;
}

/** Dante joins address and port with a dot: `127.0.0.1.42530` (a peer's hostname escaped as Dante does). */
export function dotAddr(address: string | undefined, port: number | undefined): string {
  return `${address === undefined ? '0.0.0.0' : vis(address)}.${port ?? 0}`;
}

/** `username%alice@127.0.0.1.46182` when the client authenticated (the name escaped as Dante does). */
export function clientAddr(address: string | undefined, port: number | undefined, user?: string): string {
  return user !== undefined ? `username%${vis(user)}@${dotAddr(address, port)}` : dotAddr(address, port);
}

export type Verdict = 'pass' | 'block';

/** `pass(1): tcp/accept [: C S` */
export function acceptOpen(verdict: Verdict, rule: number, client: string, internal: string): string {
  return `${verdict}(${rule}): tcp/accept [: ${client} ${internal}`;
}

/** `block(1): tcp/accept ]: C S` or with a `: reason` suffix. */
export function acceptBlocked(rule: number, client: string, internal: string, reason?: string): string {
  return `block(${rule}): tcp/accept ]: ${client} ${internal}${reason !== undefined ? `: ${reason}` : ''}`;
}

/** `pass(2): tcp/connect [: C S -> L D` */
export function commandOpen(verdict: Verdict, rule: number, proto: string, command: string,
  client: string, internal: string, local: string, dest: string): string {
  return `${verdict}(${rule}): ${proto}/${command} [: ${client} ${internal} -> ${local} ${dest}`;
}

/** `block(1): tcp/connect ]: C S -> 0.0.0.0.0 D` */
export function commandBlocked(rule: number, proto: string, command: string, client: string,
  internal: string, dest: string): string {
  return `block(${rule}): ${proto}/${command} ]: ${client} ${internal} -> 0.0.0.0.0 ${dest}`;
}

export interface ByteCounts {
  /** bytes read from the client */
  fromClient: number;
  /** bytes written to the client */
  toClient: number;
  /** bytes written to the destination */
  toDest: number;
  /** bytes read from the destination */
  fromDest: number;
}

/**
 * `pass(2): tcp/connect ]: 441 -> C S -> 79, 79 -> L D -> 441: remote peer closed.  Session duration: 0s`
 */
export function commandClosed(verdict: Verdict, rule: number, proto: string, command: string,
  client: string, internal: string, local: string, dest: string, b: ByteCounts, reason: string,
  durationS: number): string {
  return `${verdict}(${rule}): ${proto}/${command} ]: ${b.toClient} -> ${client} ${internal} -> ${b.fromClient}, ` +
    `${b.toDest} -> ${local} ${dest} -> ${b.fromDest}: ${reason}.  Session duration: ${durationS}s`;
}

/** `pass(1): tcp/accept ]: 441 -> C S -> 79: remote peer closed.  Session duration: 0s` */
export function acceptClosed(verdict: Verdict, rule: number, client: string, internal: string,
  b: ByteCounts, reason: string, durationS: number): string {
  return `${verdict}(${rule}): tcp/accept ]: ${b.toClient} -> ${client} ${internal} -> ${b.fromClient}: ` +
    `${reason}.  Session duration: ${durationS}s`;
}

/** Text of a failed connect, from a Node-style error: `remote peer error (Connection refused)`. */
const STRERROR: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  ENETUNREACH: 'Network is unreachable',
  EHOSTUNREACH: 'No route to host',
  ETIMEDOUT: 'Connection timed out',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EPIPE: 'Broken pipe',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOTFOUND: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
};

export function strerror(code: string | undefined): string {
  return (code !== undefined && STRERROR[code]) || code || 'unknown error';
}
