import { ConfigError } from '@mptcp-proxy/common';
import type { LogTarget } from './types';

/** redsocks' log.c accepts exactly these syslog facilities. */
export const SYSLOG_FACILITIES = [
  'daemon', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;

/**
 * Parses `log = "..."` the way redsocks' log_preopen() does at start (not at `-t`).
 * Throws ConfigError with redsocks' message text.
 */
export function parseLogTarget(spec: string, file = '<config>', line = 0): LogTarget {
  if (spec === 'stderr') return { kind: 'stderr' };
  if (spec.startsWith('file:')) return { kind: 'file', path: spec.slice('file:'.length) };
  if (spec.startsWith('syslog:')) {
    const facility = spec.slice('syslog:'.length);
    if ((SYSLOG_FACILITIES as readonly string[]).includes(facility)) return { kind: 'syslog', facility };
    throw new ConfigError('ECONFIG_LOG', file, line, `log_preopen(${spec}, ...): unknown syslog facility`, spec);
  }
  throw new ConfigError('ECONFIG_LOG', file, line, `log_preopen(${spec}, ...): unknown destination`, spec);
}
