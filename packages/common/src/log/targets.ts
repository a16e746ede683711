/**
 * Where log lines go, and the one parser of the two config spellings for it:
 * - redsocks (`log = "..."`): `stderr`, `file:PATH`, `syslog:FACILITY` (daemon, local0..local7);
 *   anything else is refused at start (redsocks' log_preopen()).
 * - dante (`logoutput: ...`, one word each): `stderr`, `stdout`, `syslog`, `syslog/FACILITY`,
 *   else a file path; an unknown facility is used with a warning (Dante warns).
 */
import { FACILITIES } from 'mptcp-native';

export type LogTarget =
  | { kind: 'stderr' }
  | { kind: 'stdout' }
  | { kind: 'syslog'; facility: string }
  | { kind: 'file'; path: string };

export type LogTargetSyntax = 'redsocks' | 'dante';

/** The facilities redsocks' log.c accepts. */
export const REDSOCKS_SYSLOG_FACILITIES: readonly string[] = [
  'daemon', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
];

/** syslog(3)'s facility names, the set Dante knows. */
export const SYSLOG_FACILITIES: readonly string[] = Object.keys(FACILITIES);

export type LogTargetParse =
  | { ok: true; target: LogTarget; /** dante: a facility syslog(3) does not know (used anyway, with a warning) */ unknownFacility?: string }
  | { ok: false; problem: 'unknown destination' | 'unknown syslog facility' | 'no file name' };

export function parseLogTarget(spec: string, syntax: LogTargetSyntax): LogTargetParse {
  if (spec === 'stderr') return { ok: true, target: { kind: 'stderr' } };
  if (syntax === 'redsocks') {
    if (spec.startsWith('file:')) {
      // redsocks' fopen("") fails at start: refused here, so that -t says so too.
      const path = spec.slice('file:'.length);
      return path === '' ? { ok: false, problem: 'no file name' } : { ok: true, target: { kind: 'file', path } };
    }
    if (spec.startsWith('syslog:')) {
      const facility = spec.slice('syslog:'.length);
      if (REDSOCKS_SYSLOG_FACILITIES.includes(facility)) return { ok: true, target: { kind: 'syslog', facility } };
      return { ok: false, problem: 'unknown syslog facility' };
    }
    return { ok: false, problem: 'unknown destination' };
  }
  if (spec === 'stdout') return { ok: true, target: { kind: 'stdout' } };
  if (spec === 'syslog') return { ok: true, target: { kind: 'syslog', facility: 'daemon' } };
  if (spec.startsWith('syslog/')) {
    const facility = spec.slice('syslog/'.length);
    const target: LogTarget = { kind: 'syslog', facility };
    return SYSLOG_FACILITIES.includes(facility) ? { ok: true, target } : { ok: true, target, unknownFacility: facility };
  }
  return { ok: true, target: { kind: 'file', path: spec } };
}
