import { ConfigError, type ConfigErrorLine } from '@mptcp-proxy/common';

/**
 * A rejected redsocks.conf: `lines` holds everything redsocks 0.5 would print for the same file
 * (the specific error, then its cascade such as `unclosed section`), the first one being the
 * error's own line and detail; `hint` is our migration advice.
 */
export function redsocksConfigError(
  code: string,
  file: string,
  lines: ConfigErrorLine[],
  extra: { hint?: string; token?: string; column?: number } = {},
): ConfigError {
  const first = lines[0] ?? { line: 0, message: 'unknown error' };
  return new ConfigError(code, file, first.line, first.message, extra.token, { hint: extra.hint, column: extra.column, lines });
}

/** The text redsocks 0.5 writes to stderr for a rejected file (plus our hint, if any). */
export function redsocksErrorText(err: ConfigError): string {
  const out = err.lines.map((l) => `file parsing error at line ${l.line}: ${l.message}`);
  if (err.hint !== undefined) out.push(`hint: ${err.hint}`);
  return out.join('\n') + '\n';
}
