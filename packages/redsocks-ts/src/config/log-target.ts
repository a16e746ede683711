import { ConfigError, parseLogTarget as parseTarget, type LogTarget } from '@mptcp-proxy/common';

/**
 * Parses `log = "..."` (common's parser, redsocks syntax) the way redsocks' log_preopen()
 * does at start (not at `-t`). Throws ConfigError with redsocks' message text.
 */
export function parseLogTarget(spec: string, file = '<config>', line = 0): LogTarget {
  const r = parseTarget(spec, 'redsocks');
  if (r.ok) return r.target;
  throw new ConfigError('ECONFIG_LOG', file, line, `log_preopen(${spec}, ...): ${r.problem}`, spec);
}
