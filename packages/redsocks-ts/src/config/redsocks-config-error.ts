import { ConfigError } from '@mptcp-proxy/common';

/** One line as redsocks prints it: `file parsing error at line N: MSG`. */
export interface RedsocksErrorLine {
  line: number;
  message: string;
}

/**
 * A rejected redsocks.conf. `detail` is redsocks' first message; `lines` holds everything
 * redsocks 0.5 would print for the same file (the specific error, then its cascade such as
 * `unclosed section`), so `-t` can reproduce its stderr. `hint` is our migration advice.
 */
export class RedsocksConfigError extends ConfigError {
  readonly lines: RedsocksErrorLine[];
  readonly hint?: string;
  constructor(code: string, file: string, lines: RedsocksErrorLine[], hint?: string, token?: string) {
    const first = lines[0] ?? { line: 0, message: 'unknown error' };
    super(code, file, first.line, first.message, token);
    this.lines = lines;
    this.hint = hint;
    if (hint !== undefined) this.message += `\n  hint: ${hint}`;
  }

  /** The text redsocks 0.5 writes to stderr for this file (plus our hint, if any). */
  redsocksOutput(): string {
    const out = this.lines.map((l) => `file parsing error at line ${l.line}: ${l.message}`);
    if (this.hint !== undefined) out.push(`hint: ${this.hint}`);
    return out.join('\n') + '\n';
  }
}

/** Thrown by a value parser or section check; the grammar turns it into redsocks' lines. */
export class ValueError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
  }
}
