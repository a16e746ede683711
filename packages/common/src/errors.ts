/**
 * Every error class of the product, each with a stable `code` (as undici's errors.js): callers
 * branch on `instanceof` and `code`, never on message text, and never read extra fields back
 * through casts. mptcp-native keeps its own Node-style errno errors (it sits below this package).
 *
 * Codes by class:
 * - ProtocolError (a peer's malformed SOCKS/HTTP/DNS bytes): ESOCKS_VERSION, ESOCKS_METHODS,
 *   ESOCKS_AUTH_VERSION, ESOCKS_AUTH_LENGTH, ESOCKS_ATYP, ESOCKS_DOMAIN, ESOCKS_PORT,
 *   ESOCKS_ADDRESS, ESOCKS_VALUE, ESOCKS4_USERID, ESOCKS_UDP_TRUNCATED,
 *   ESOCKS_METHOD_UNEXPECTED, EHTTPLINE, EHTTPHEAD, EHTTPREQUEST, EDNS_SHORT, EDNS_NAME,
 *   EDNS_RECORD (redsocks-ts's DNS codec).
 * - ReceiveError (a ReceiveBuffer gave up waiting): EPEER_EOF, EPEER_TIMEOUT, EPEER_TOOLONG.
 * - RelayError: ERELAY_SOCKET, ERELAY_CLOSED, ERELAY_IDLE, ERELAY_ABORTED, ERELAY_STATE.
 * - UpstreamError (redsocks-ts could not build a tunnel): ESOCKS5_STATUS, ESOCKS5_METHOD,
 *   ESOCKS5_AUTH, ESOCKS5_PIPELINE, ESOCKS4_REP, EHTTPAUTH, EHTTPSTATUS, or the code of the
 *   error it wraps (a ProtocolError's, a ReceiveError's, a socket's errno).
 * - ConfigError: the grammars' ECONFIG_* / EDANTED_* codes, ECONFIG_OPEN, ECONFIG_LOG,
 *   EPASSWDFILE_*; ConfigValueError (a value refused, before the grammar adds file:line).
 * - ProxyError (everything else): ELOG_TARGET, EUPSTREAMTYPE, EREDIRECTOR, ENOREDIRECTOR,
 *   EGETSOCKNAME, EGATEWAY_ARGS, EGATEWAY_STEP, EAUTH_UNSUPPORTED, ENOINTERNAL, EINTERNAL,
 *   EEXTERNAL, ETIMEDOUT / EHOSTUNREACH (name resolution), EPIDFILE, EPRIVILEGES, ETLS_PIN,
 *   ETLS_TIMEOUT (redsocks-ts' TLS layer), ERELOAD_TLS (socks-server: a reload that would open
 *   or close a TLS listener).
 */
export class ProxyError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** One further line the original program prints for the same file (redsocks' error cascade). */
export interface ConfigErrorLine {
  line: number;
  message: string;
}

export interface ConfigErrorExtra {
  /** 1-based column of the offending token, when the lexer knows it. */
  column?: number;
  /** Migration advice shown after the message. */
  hint?: string;
  /** Every line the original program would print, the first one included. */
  lines?: readonly ConfigErrorLine[];
}

/** A problem in redsocks.conf, danted.conf or a file they name: `file:line[:column]: message`. */
export class ConfigError extends ProxyError {
  readonly file: string;
  readonly line: number;
  readonly column?: number;
  readonly token?: string;
  /** The bare message without the file:line prefix (redsocks'/Dante's own text). */
  readonly detail: string;
  readonly hint?: string;
  readonly lines: readonly ConfigErrorLine[];
  constructor(code: string, file: string, line: number, detail: string, token?: string, extra: ConfigErrorExtra = {}) {
    const at = extra.column !== undefined ? `${file}:${line}:${extra.column}` : `${file}:${line}`;
    const near = token !== undefined ? ` (near "${token}")` : '';
    const hint = extra.hint !== undefined ? `\n  hint: ${extra.hint}` : '';
    super(code, `${at}: ${detail}${near}${hint}`);
    this.file = file;
    this.line = line;
    this.detail = detail;
    this.token = token;
    if (extra.column !== undefined) this.column = extra.column;
    if (extra.hint !== undefined) this.hint = extra.hint;
    this.lines = extra.lines ?? [{ line, message: detail }];
  }
}

/**
 * A config value refused by a value parser or a section check. The grammar catches it and
 * turns it into a ConfigError at the value's file:line; it never leaves a parser.
 */
export class ConfigValueError extends ProxyError {
  readonly hint?: string;
  constructor(message: string, hint?: string) {
    super('ECONFIG_VALUE', message);
    if (hint !== undefined) this.hint = hint;
  }
}

/** A malformed SOCKS/HTTP/DNS message from a peer. */
export class ProtocolError extends ProxyError {}

/** A ReceiveBuffer stopped waiting: the peer closed (EPEER_EOF), was silent or sent too much. */
export class ReceiveError extends ProxyError {}

export type RelaySide = 'src' | 'dst' | 'a' | 'b';

/**
 * Why a pipe or relay stopped early. Codes: ERELAY_SOCKET (a socket emitted 'error'; `cause`),
 * ERELAY_CLOSED (a socket was destroyed before its direction finished), ERELAY_IDLE (idle timeout),
 * ERELAY_ABORTED (the owner called abort()), ERELAY_STATE (a direction started twice).
 * `side` is 'src'/'dst' for a pipe and 'a'/'b' for a relay.
 */
export class RelayError extends ProxyError {
  side?: RelaySide;
  /** Bytes moved by the failed pipe. */
  bytes?: number;
  /** Bytes moved by a relay's two directions. */
  aToB?: number;
  bToA?: number;
  constructor(code: string, message: string, side?: RelaySide, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
    if (side !== undefined) this.side = side;
  }
}

export interface UpstreamErrorExtra {
  /**
   * RST the LAN client rather than FIN it (the optimistic-connect failure contract: the client
   * may already have sent bytes it believes were delivered).
   */
  resetClient?: boolean;
  /** The protocol already answered and half-closed the client (on_proxy_fail = forward_http_err). */
  clientHandled?: boolean;
  /** The SOCKS5 REP, method or RFC 1929 status the server answered, when that was the failure. */
  rep?: number;
  method?: number;
  status?: number;
  cause?: unknown;
}

/**
 * An upstream protocol could not build the tunnel. The message is the text redsocks logs
 * (e.g. the SOCKS REP or the HTTP status line).
 */
export class UpstreamError extends ProxyError {
  readonly resetClient: boolean;
  readonly clientHandled: boolean;
  readonly rep?: number;
  readonly method?: number;
  readonly status?: number;
  constructor(code: string, message: string, extra: UpstreamErrorExtra = {}) {
    super(code, message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.resetClient = extra.resetClient === true;
    this.clientHandled = extra.clientHandled === true;
    if (extra.rep !== undefined) this.rep = extra.rep;
    if (extra.method !== undefined) this.method = extra.method;
    if (extra.status !== undefined) this.status = extra.status;
  }
}

/** The `code` of any thrown value (an errno string for Node's errors), or undefined. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
