import { ConfigError } from '@mptcp-proxy/common';
import { msg, SYNTAX_ERROR } from './dante-messages';
import { CLIENT_METHODS, CLIENT_METHOD_NUMBERS, SOCKS_METHODS } from './keywords';
import { isKeywordToken, type Token } from './lexer';
import type { SystemLookups } from './system-lookup';
import type { ClientMethod, ConfigWarning, PortSpec, SocksMethod } from './types';
import { PORT_OPERATORS, parseNumber, parsePort, portRange, type Parsed } from './values';

/** Stable error codes of ConfigError thrown by the danted.conf parser. */
export const DANTED_ERROR_CODES = {
  syntax: 'EDANTED_SYNTAX', // Dante's "syntax error"
  value: 'EDANTED_VALUE', // a bad number, mask, port, method, ...
  unsupported: 'EDANTED_UNSUPPORTED', // not compiled in / not licensed / not on this system
  system: 'EDANTED_SYSTEM', // no such user, unresolvable host
  check: 'EDANTED_CHECK', // checkconfig()/checkrule() consistency
  open: 'EDANTED_OPEN', // cannot read the file
  internal: 'EDANTED_INTERNAL', // a parser bug; should never happen
} as const;

export const E = DANTED_ERROR_CODES;

/**
 * The token stream of one danted.conf with the pieces of grammar every part of the file
 * shares: value lists, numbers, method lists, port specs, and the file:line error and
 * warning builders. The settings table (settings.ts), the rule grammar (rule-grammar.ts)
 * and the checks (checks.ts) all read through one cursor.
 */
export class TokenCursor {
  private i = 0;
  readonly warnings: ConfigWarning[] = [];

  constructor(
    private readonly toks: Token[],
    readonly file: string,
    private readonly lastLine: number,
    readonly sys: SystemLookups,
  ) {}

  peek(): Token | undefined {
    return this.toks[this.i];
  }

  next(): Token | undefined {
    return this.toks[this.i++];
  }

  skip(): void {
    this.i++;
  }

  /** `tok` undefined = at end of file; `null` = no token (checkconfig() errors have none). */
  fail(code: string, tok: Token | undefined | null, detail: string): never {
    const text = tok === null ? undefined : (tok?.text ?? 'end of file');
    throw new ConfigError(code, this.file, tok?.line ?? this.lastLine, detail.replace(/\(FILE\)/g, `(${this.file})`), text, { column: tok?.col });
  }

  syntax(tok: Token | undefined): never {
    return this.fail(E.syntax, tok, SYNTAX_ERROR);
  }

  warn(tok: Token | undefined, message: string): void {
    this.warnings.push({
      file: this.file,
      line: tok?.line ?? this.lastLine,
      token: tok?.text,
      message: message.replace(/\(FILE\)/g, `(${this.file})`),
    });
  }

  want<T>(tok: Token, r: Parsed<T>, code: string = E.value): T {
    if (!r.ok) return this.fail(r.detail === SYNTAX_ERROR ? E.syntax : code, tok, r.detail);
    return r.value;
  }

  /** Value words after a keyword: up to the end of the logical line, the next keyword or a brace. */
  values(): Token[] {
    const out: Token[] = [];
    for (let t = this.peek(); t && !t.nl && !isKeywordToken(t.text) && t.text !== '{' && t.text !== '}'; t = this.peek()) {
      out.push(t);
      this.i++;
    }
    return out;
  }

  /** Exactly one value word. */
  one(vals: Token[]): Token {
    if (vals.length === 0) this.syntax(this.peek());
    if (vals.length > 1) this.syntax(vals[1]);
    return vals[0];
  }

  number(vals: Token[]): number {
    const t = this.one(vals);
    return this.want(t, parseNumber(t.text));
  }

  /** `N/S`: a count per number of seconds (session.throttle and our extension.auth.failures). */
  rate(vals: Token[]): { count: number; seconds: number } {
    const v = this.one(vals);
    const m = /^([^/]+)\/([^/]+)$/.exec(v.text);
    if (!m) return this.syntax(v);
    return { count: this.want(v, parseNumber(m[1])), seconds: this.want(v, parseNumber(m[2])) };
  }

  enumList<T extends string>(vals: Token[], allowed: ReadonlySet<string>, aliases: Record<string, T> = {}): T[] {
    if (vals.length === 0) this.syntax(this.peek());
    return vals.map((v) => {
      const a = aliases[v.text];
      if (a) return a;
      if (!allowed.has(v.text)) this.syntax(v);
      return v.text as T;
    });
  }

  socksMethods(vals: Token[]): SocksMethod[] {
    if (vals.length === 0) this.syntax(this.peek());
    return vals.map((v) => {
      if (v.text === 'gssapi') this.fail(E.unsupported, v, msg.notLinked('GSSAPI'));
      if (v.text === 'bsdauth') this.fail(E.unsupported, v, msg.notLinked('bsdauth'));
      if (!SOCKS_METHODS.has(v.text)) this.syntax(v);
      return v.text as SocksMethod;
    });
  }

  clientMethods(vals: Token[]): ClientMethod[] {
    if (vals.length === 0) this.syntax(this.peek());
    return vals.map((v) => {
      const n = CLIENT_METHOD_NUMBERS[v.text];
      if (n !== undefined) this.fail(E.value, v, msg.notClientMethod(v.text, n));
      if (v.text === 'gssapi') this.fail(E.unsupported, v, msg.notLinked('GSSAPI'));
      if (v.text === 'bsdauth') this.fail(E.unsupported, v, msg.notLinked('bsdauth'));
      if (!CLIENT_METHODS.has(v.text)) this.syntax(v);
      return v.text as ClientMethod;
    });
  }

  /** `gssapi.*`, `ldap.*`, `bsdauth.*`: refused with Dante's "not linked" text. */
  refuseUnlinked(name: string, at: () => Token): void {
    if (/^gssapi\./.test(name)) this.fail(E.unsupported, at(), msg.notLinked('GSSAPI'));
    if (/^ldap\./.test(name)) this.fail(E.unsupported, at(), msg.notLinked('LDAP'));
    if (/^bsdauth\./.test(name)) this.fail(E.unsupported, at(), msg.notLinked('bsdauth'));
  }

  private port(t: Token, text = t.text): number {
    return this.want(t, parsePort(text, (n) => this.sys.servicePort(n)));
  }

  /** Port spec from already-collected value tokens: `port = N`, `port eq N`, `port A-B`, `port A - B`. */
  portSpecFrom(toks: Token[]): PortSpec {
    let j = 0;
    const take = (): Token => {
      const t = toks[j++];
      if (!t) this.syntax(this.peek());
      return t;
    };
    const portTok = take();
    if (portTok.text !== 'port') this.syntax(portTok);
    const spec = this.portSpecAfterKeyword(take, () => toks[j], () => j++);
    if (j < toks.length) this.syntax(toks[j]);
    return spec;
  }

  portSpecAfterKeyword(
    take: () => Token,
    look: () => Token | undefined,
    skip: () => void,
    swappedRangeText = true,
  ): PortSpec {
    const t = take();
    const op = PORT_OPERATORS[t.text];
    if (op) {
      const v = take();
      return { op, port: this.port(v) };
    }
    const m = /^([^-]+)-([^-]+)$/.exec(t.text);
    if (m) {
      const a = this.port(t, m[1]);
      const b = this.port(t, m[2]);
      return this.want(t, portRange(a, b, swappedRangeText));
    }
    const dash = look();
    if (/^[0-9A-Za-z]/.test(t.text) && dash && dash.text === '-') {
      skip();
      const a = this.port(t);
      const e = take();
      const b = this.port(e);
      return this.want(e, portRange(a, b, swappedRangeText));
    }
    if (/^[0-9A-Za-z]+-$/.test(t.text)) {
      const e = take();
      const a = this.port(t, t.text.slice(0, -1));
      const b = this.port(e);
      return this.want(e, portRange(a, b, swappedRangeText));
    }
    // `port 80` without an operator is a syntax error in Dante too.
    return this.syntax(t);
  }

  /** Port spec read from the token stream (inside rules). */
  streamPortSpec(): PortSpec {
    return this.portSpecAfterKeyword(
      () => {
        const t = this.next();
        if (!t || t.text === '}' || t.text === '{' || isKeywordToken(t.text)) this.syntax(t);
        return t;
      },
      () => this.peek(),
      () => this.i++,
    );
  }
}
