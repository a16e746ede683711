/**
 * One error base class with a stable `code`, as undici does. Config errors carry
 * file:line (and the offending token) so every daemon message can name them.
 */
export class ProxyError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A problem in redsocks.conf or danted.conf: `file:line: message`. */
export class ConfigError extends ProxyError {
  readonly file: string;
  readonly line: number;
  readonly token?: string;
  /** The bare message without the file:line prefix (redsocks'/Dante's own text). */
  readonly detail: string;
  constructor(code: string, file: string, line: number, detail: string, token?: string) {
    super(code, `${file}:${line}: ${detail}${token !== undefined ? ` (near "${token}")` : ''}`);
    this.file = file;
    this.line = line;
    this.detail = detail;
    this.token = token;
  }
}

/** A malformed SOCKS/HTTP message from a peer. */
export class ProtocolError extends ProxyError {}
