import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { ConfigError } from '@mptcp-proxy/common';
import { DEFAULT_INTERNAL_PORT, defaultConfig } from './defaults';
import { msg, SYNTAX_ERROR } from './dante-messages';
import { isKeywordToken, tokenize, type Token } from './lexer';
import {
  CLIENT_METHODS,
  CLIENT_METHOD_NUMBERS,
  COMMANDS,
  LOG_EVENTS,
  MPTCP_MODES,
  PROTOCOLS,
  PROXY_PROTOCOLS,
  SOCKS_METHODS,
  USERNAME_METHODS,
  isSocketOption,
} from './keywords';
import { hostnameResolves, interfaceAddresses, interfaceExists, userExists } from './system-lookup';
import type {
  AddressFamily,
  ClientMethod,
  Command,
  Protocol,
  ProxyProtocol,
  ConfigWarning,
  DantedConfig,
  ExternalAddress,
  InternalAddress,
  LoadResult,
  MptcpMode,
  PortSpec,
  Route,
  Rule,
  RuleAddress,
  SocksMethod,
  Timeouts,
} from './types';
import { PORT_OPERATORS, ipFamily, parseLogTarget, parseNumber, parsePort, parseYesNo, portRange, type Parsed } from './values';

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

const E = DANTED_ERROR_CODES;

type SettingHandler = (kw: Token, vals: Token[]) => void;
type RuleKind = 'client' | 'socks' | 'route';

class DantedParser {
  private i = 0;
  private readonly config: DantedConfig;
  private readonly warnings: ConfigWarning[] = [];
  private rulesSeen = false;
  /** A `user:`/`group:` line that swallowed a `}`, for a hint if the block never closes. */
  private swallowed: Token | undefined;
  private readonly settings: Record<string, SettingHandler>;

  constructor(
    private readonly toks: Token[],
    private readonly file: string,
    private readonly lastLine: number,
  ) {
    this.config = defaultConfig(file);
    this.settings = this.settingTable();
  }

  parse(): LoadResult {
    for (let t = this.next(); t; t = this.next()) {
      if (isKeywordToken(t.text)) this.setting(t);
      else this.ruleStart(t);
    }
    this.checkConfig();
    return { config: this.config, warnings: this.warnings };
  }

  // ---- token helpers -------------------------------------------------------------------

  private peek(): Token | undefined {
    return this.toks[this.i];
  }

  private next(): Token | undefined {
    return this.toks[this.i++];
  }

  /** `tok` undefined = at end of file; `null` = no token (checkconfig() errors have none). */
  private fail(code: string, tok: Token | undefined | null, detail: string): never {
    const text = tok === null ? undefined : (tok?.text ?? 'end of file');
    throw new ConfigError(code, this.file, tok?.line ?? this.lastLine, detail.replace(/\(FILE\)/g, `(${this.file})`), text, { column: tok?.col });
  }

  private syntax(tok: Token | undefined): never {
    return this.fail(E.syntax, tok, SYNTAX_ERROR);
  }

  private warn(tok: Token | undefined, message: string): void {
    this.warnings.push({
      file: this.file,
      line: tok?.line ?? this.lastLine,
      token: tok?.text,
      message: message.replace(/\(FILE\)/g, `(${this.file})`),
    });
  }

  private want<T>(tok: Token, r: Parsed<T>, code: string = E.value): T {
    if (!r.ok) return this.fail(r.detail === SYNTAX_ERROR ? E.syntax : code, tok, r.detail);
    return r.value;
  }

  /** Value words after a keyword: up to the end of the logical line, the next keyword or a brace. */
  private values(): Token[] {
    const out: Token[] = [];
    for (let t = this.peek(); t && !t.nl && !isKeywordToken(t.text) && t.text !== '{' && t.text !== '}'; t = this.peek()) {
      out.push(t);
      this.i++;
    }
    return out;
  }

  private one(kw: Token, vals: Token[]): Token {
    if (vals.length === 0) this.syntax(this.peek());
    if (vals.length > 1) this.syntax(vals[1]);
    void kw;
    return vals[0];
  }

  private number(kw: Token, vals: Token[]): number {
    const t = this.one(kw, vals);
    return this.want(t, parseNumber(t.text));
  }

  private enumList<T extends string>(vals: Token[], allowed: ReadonlySet<string>, aliases: Record<string, T> = {}): T[] {
    if (vals.length === 0) this.syntax(this.peek());
    return vals.map((v) => {
      const a = aliases[v.text];
      if (a) return a;
      if (!allowed.has(v.text)) this.syntax(v);
      return v.text as T;
    });
  }

  // ---- settings -------------------------------------------------------------------------

  private setting(kw: Token): void {
    const name = kw.text.slice(0, -1);
    if (this.rulesSeen) this.syntax(kw); // Dante: all settings precede rules and routes
    const vals = this.values();
    const handler = this.settings[name];
    if (handler) return handler(kw, vals);
    if (isSocketOption(name) || /^cpu\.(mask|schedule)\./.test(name) || /^(internal|external)\.log\./.test(name)) {
      if (vals.length === 0) this.syntax(this.peek());
      this.warn(kw, `"${name}" is accepted but ignored by socks-server`);
      return;
    }
    if (/^gssapi\./.test(name)) this.fail(E.unsupported, vals[0] ?? kw, msg.notLinked('GSSAPI'));
    if (/^ldap\./.test(name)) this.fail(E.unsupported, vals[0] ?? kw, msg.notLinked('LDAP'));
    if (/^bsdauth\./.test(name)) this.fail(E.unsupported, vals[0] ?? kw, msg.notLinked('bsdauth'));
    this.syntax(kw);
  }

  private settingTable(): Record<string, SettingHandler> {
    const c = this.config;
    const timeout = (field: keyof Timeouts | 'io') => (kw: Token, vals: Token[]) => {
      const n = this.number(kw, vals);
      if (field === 'io') {
        c.timeout.ioTcp = n;
        c.timeout.ioUdp = n;
      } else c.timeout[field] = n;
    };
    const logTargets = (into: 'logoutput' | 'errorlog') => (_kw: Token, vals: Token[]) => {
      if (vals.length === 0) this.syntax(this.peek());
      for (const v of vals) {
        const { target, warning } = parseLogTarget(v.text);
        if (warning) this.warn(v, warning);
        c[into].push(target);
      }
    };
    const userSetting = (field: 'privileged' | 'unprivileged' | 'libwrap') => (kw: Token, vals: Token[]) => {
      const t = this.one(kw, vals);
      if (!userExists(t.text)) this.fail(E.system, t, msg.noSuchUser(t.text));
      c.user[field] = t.text;
    };
    const families = (side: 'internal' | 'external') => (kw: Token, vals: Token[]) => {
      if (c[side].length > 0) this.fail(E.value, kw, msg.protocolAfterAddress(side));
      const list = this.enumList<'ipv4' | 'ipv6'>(vals, new Set(['ipv4', 'ipv6']));
      c[side === 'internal' ? 'internalProtocol' : 'externalProtocol'] = [...new Set(list)];
    };
    const socksmethod = (_kw: Token, vals: Token[]) => {
      c.socksMethod = this.socksMethods(vals);
      const none = c.socksMethod.indexOf('none');
      if (none >= 0 && none < c.socksMethod.length - 1) this.warn(undefined, msg.noneShadowsMethods(c.socksMethod[none + 1]));
    };
    const obsolete = (kw: Token, vals: Token[]) => {
      this.warn(kw, msg.obsolete([kw.text, ...vals.map((v) => v.text)].join(' ')));
    };
    const mptcp = (field: 'mptcp' | 'mptcpExternal') => (kw: Token, vals: Token[]) => {
      const v = this.one(kw, vals);
      if (!MPTCP_MODES.has(v.text)) this.syntax(v);
      c.ext[field] = v.text as MptcpMode;
    };
    const privateMethod = (field: 'optimisticMethod' | 'optimisticAuthMethod') => (kw: Token, vals: Token[]) => {
      const n = this.number(kw, vals);
      if (n < 0x80 || n > 0xfe) this.fail(E.value, vals[0], `private SOCKS5 method must be 0x80 - 0xfe, not ${n}`);
      c.ext[field] = n;
    };
    return {
      logoutput: logTargets('logoutput'),
      errorlog: logTargets('errorlog'),
      debug: (kw, vals) => {
        c.debug = this.number(kw, vals);
      },
      internal: (kw, vals) => {
        const a = this.internalAddress(kw, vals);
        if (this.familyAllowed(a, c.internalProtocol)) c.internal.push(a);
        else this.ignoredAddress(kw, a.value, 'internal');
      },
      external: (kw, vals) => {
        const a = this.externalAddress(kw, vals);
        if (this.familyAllowed(a, c.externalProtocol)) c.external.push(a);
        else this.ignoredAddress(kw, a.value, 'external');
      },
      'internal.protocol': families('internal'),
      'external.protocol': families('external'),
      'external.rotation': (kw, vals) => {
        c.externalRotation = this.enumList<'none' | 'route' | 'same-same'>(
          [this.one(kw, vals)],
          new Set(['none', 'route', 'same-same']),
        )[0];
        if (c.externalRotation === 'route') this.warn(kw, 'external.rotation "route" lets the kernel pick the source address');
      },
      socksmethod,
      method: (kw, vals) => {
        this.warn(kw, msg.deprecated('method', 'socksmethod'));
        socksmethod(kw, vals);
      },
      clientmethod: (_kw, vals) => {
        c.clientMethod = this.clientMethods(vals);
      },
      'user.privileged': userSetting('privileged'),
      'user.unprivileged': userSetting('unprivileged'),
      'user.notprivileged': userSetting('unprivileged'), // Dante 1.2 name, accepted silently by 1.4.2
      'user.libwrap': userSetting('libwrap'),
      'timeout.negotiate': timeout('negotiate'),
      'timeout.io': timeout('io'),
      'timeout.io.tcp': timeout('ioTcp'),
      'timeout.io.udp': timeout('ioUdp'),
      'timeout.connect': timeout('connect'),
      'timeout.tcp_fin_wait': timeout('tcpFinWait'),
      connecttimeout: (kw, vals) => {
        this.warn(kw, msg.deprecated('connecttimeout', 'timeout.connect'));
        timeout('connect')(kw, vals);
      },
      iotimeout: (kw, vals) => {
        this.warn(kw, msg.deprecated('iotimeout', 'timeout.io'));
        timeout('io')(kw, vals);
      },
      'udp.connectdst': (kw, vals) => {
        c.udpConnectDst = this.want(vals[0] ?? kw, parseYesNo(this.one(kw, vals).text));
      },
      srchost: (kw, vals) => {
        c.srchost.push(...this.enumList(vals, new Set(['nodnsmismatch', 'nodnsunknown', 'checkreplyauth'])));
        this.warn(kw, 'srchost checks are accepted but not enforced by socks-server');
      },
      compatibility: (_kw, vals) => {
        c.compatibility.push(...this.enumList(vals, new Set(['sameport', 'draft-5.05'])));
      },
      extension: (kw, vals) => {
        this.enumList([this.one(kw, vals)], new Set(['bind']));
        c.extensionBind = true;
        this.warn(vals[0], msg.extensionBind());
      },
      'libwrap.hosts_access': (kw, vals) => {
        this.want(vals[0] ?? kw, parseYesNo(this.one(kw, vals).text));
      },
      'child.maxrequests': (kw, vals) => {
        this.number(kw, vals);
      },
      'child.maxidle': obsolete,
      localdomain: obsolete,
      'pam.servicename': (kw, vals) => {
        this.one(kw, vals);
      },
      // Our extensions (see types.ts).
      'extension.optimistic': (kw, vals) => {
        c.ext.optimistic = this.want(vals[0] ?? kw, parseYesNo(this.one(kw, vals).text));
      },
      'extension.optimistic.method': privateMethod('optimisticMethod'),
      'extension.optimistic.authmethod': privateMethod('optimisticAuthMethod'),
      'extension.optimistic.maxearly': (kw, vals) => {
        c.ext.optimisticMaxEarly = this.number(kw, vals);
      },
      'extension.fastopen': (kw, vals) => {
        c.ext.fastOpen = this.number(kw, vals);
      },
      'extension.mptcp': mptcp('mptcp'),
      'extension.mptcp.external': mptcp('mptcpExternal'),
      'extension.timeout.negotiate.pool': (kw, vals) => {
        c.ext.timeoutNegotiatePool = this.number(kw, vals);
      },
      'extension.logformat': (kw, vals) => {
        c.ext.logFormat = this.enumList<'text' | 'json'>([this.one(kw, vals)], new Set(['text', 'json']))[0];
      },
      'extension.passwordfile': (kw, vals) => {
        c.ext.passwordFile = this.one(kw, vals).text;
      },
    };
  }

  private socksMethods(vals: Token[]): SocksMethod[] {
    if (vals.length === 0) this.syntax(this.peek());
    return vals.map((v) => {
      if (v.text === 'gssapi') this.fail(E.unsupported, v, msg.notLinked('GSSAPI'));
      if (v.text === 'bsdauth') this.fail(E.unsupported, v, msg.notLinked('bsdauth'));
      if (!SOCKS_METHODS.has(v.text)) this.syntax(v);
      return v.text as SocksMethod;
    });
  }

  private clientMethods(vals: Token[]): ClientMethod[] {
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

  /** Dante ignores addresses of a family left out of `*.protocol` (hostnames are kept; see docs). */
  private familyAllowed(a: { kind: string; value: string }, families: AddressFamily[]): boolean {
    if (a.kind === 'address') return families.includes(isIPv4(a.value) ? 'ipv4' : 'ipv6');
    if (a.kind === 'interface') {
      const fams = interfaceAddresses(a.value).map((x) => (isIPv4(x) ? 'ipv4' : 'ipv6'));
      return fams.length === 0 || fams.some((f) => families.includes(f));
    }
    return true;
  }

  private ignoredAddress(kw: Token, value: string, side: 'internal' | 'external'): void {
    // Stored as a warning: the `${side}.protocol` setting made Dante skip this address.
    this.warn(kw, `${side} address "${value}" is ignored: its address family is not in ${side}.protocol`);
  }

  private internalAddress(kw: Token, vals: Token[]): InternalAddress {
    if (vals.length === 0) this.syntax(this.peek());
    const [addr, ...rest] = vals;
    let port = DEFAULT_INTERNAL_PORT;
    if (rest.length > 0) {
      const spec = this.portSpecFrom(rest);
      if (spec.op === 'range') this.syntax(rest[1]);
      port = spec.port;
      if (port === 0) this.fail(E.value, rest[rest.length - 1], msg.noPortToBind(addr.text));
    }
    const where = this.hostOrInterface(addr);
    void kw;
    return { ...where, port, file: this.file, line: addr.line };
  }

  private externalAddress(kw: Token, vals: Token[]): ExternalAddress {
    const addr = this.one(kw, vals);
    return { ...this.hostOrInterface(addr), file: this.file, line: addr.line };
  }

  /** `internal:`/`external:` address: IP (no mask), interface name, or a hostname that must resolve. */
  private hostOrInterface(t: Token): { kind: 'address' | 'interface' | 'hostname'; value: string } {
    const slash = t.text.indexOf('/');
    if (slash >= 0) {
      const fam = ipFamily(t.text.slice(0, slash));
      if (fam) this.fail(E.value, t, msg.netmaskNotAllowed(fam));
      this.syntax(t);
    }
    if (ipFamily(t.text)) return { kind: 'address', value: t.text };
    if (interfaceExists(t.text)) return { kind: 'interface', value: t.text };
    if (!hostnameResolves(t.text)) this.fail(E.system, t, msg.cannotResolve(t.text));
    return { kind: 'hostname', value: t.text };
  }

  /** Port spec from already-collected value tokens: `port = N`, `port eq N`, `port A-B`, `port A - B`. */
  private portSpecFrom(toks: Token[]): PortSpec {
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

  private portSpecAfterKeyword(
    take: () => Token,
    look: () => Token | undefined,
    skip: () => void,
    swappedRangeText = true,
  ): PortSpec {
    const t = take();
    const op = PORT_OPERATORS[t.text];
    if (op) {
      const v = take();
      return { op, port: this.want(v, parsePort(v.text)) };
    }
    const m = /^([^-]+)-([^-]+)$/.exec(t.text);
    if (m) {
      const a = this.want(t, parsePort(m[1]));
      const b = this.want(t, parsePort(m[2]));
      return this.want(t, portRange(a, b, swappedRangeText));
    }
    const dash = look();
    if (/^[0-9A-Za-z]/.test(t.text) && dash && dash.text === '-') {
      skip();
      const a = this.want(t, parsePort(t.text));
      const e = take();
      const b = this.want(e, parsePort(e.text));
      return this.want(e, portRange(a, b, swappedRangeText));
    }
    if (/^[0-9A-Za-z]+-$/.test(t.text)) {
      const e = take();
      const a = this.want(t, parsePort(t.text.slice(0, -1)));
      const b = this.want(e, parsePort(e.text));
      return this.want(e, portRange(a, b, swappedRangeText));
    }
    // `port 80` without an operator is a syntax error in Dante too.
    return this.syntax(t);
  }

  /** Port spec read from the token stream (inside rules). */
  private streamPortSpec(): PortSpec {
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

  // ---- rules ----------------------------------------------------------------------------

  private ruleStart(t: Token): void {
    const word = t.text;
    const isRuleWord = ['client', 'socks', 'hostid', 'route', 'monitor', 'pass', 'block'].includes(word);
    if (!isRuleWord) this.syntax(t);
    if (!t.nl) this.syntax(t); // a rule keyword must start a line
    this.rulesSeen = true;
    if (word === 'hostid') this.fail(E.unsupported, t, msg.hostidUnsupported());
    if (word === 'route') return this.route(t);
    if (word === 'monitor') return this.monitor(t);
    if (word === 'pass' || word === 'block') {
      this.warn(t, msg.deprecated(word, `socks ${word}`));
      return this.rule('socks', word, t);
    }
    const action = this.next();
    if (!action || (action.text !== 'pass' && action.text !== 'block')) this.syntax(action);
    this.rule(word as 'client' | 'socks', action.text as 'pass' | 'block', t);
  }

  private openBrace(): Token {
    const b = this.next();
    if (!b || b.text !== '{') this.syntax(b);
    return b;
  }

  private rule(type: 'client' | 'socks', action: 'pass' | 'block', start: Token): void {
    this.openBrace();
    const list = type === 'client' ? this.config.clientRules : this.config.socksRules;
    const rule: Rule = {
      type,
      action,
      number: list.length + 1,
      file: this.file,
      line: start.line,
      from: { kind: 'any' },
      to: { kind: 'any' },
      log: [],
      session: {},
      timeout: {},
    };
    const close = this.ruleBody(type, rule, start);
    this.checkRule(rule, close);
    list.push(rule);
  }

  /** Reads keywords up to the closing brace; returns the `}` token. */
  private ruleBody(kind: RuleKind, rule: Rule | Route, start: Token): Token {
    let fromTo = false;
    for (;;) {
      const t = this.next();
      if (!t) {
        const hint = this.swallowed
          ? ` (the "${this.swallowed.text}" list on line ${this.swallowed.line} runs to the end of its line, so a "}" there is taken as a name)`
          : '';
        return this.fail(E.syntax, undefined, `${SYNTAX_ERROR}: missing "}" for the rule opened on line ${start.line}${hint}`);
      }
      if (t.text === '}') {
        if (!fromTo) this.syntax(t);
        if (kind === 'route' && !(rule as Route).via) this.syntax(t);
        return t;
      }
      if (t.text === 'redirect' && kind !== 'route') this.fail(E.unsupported, t, msg.license('redirect'));
      if (!isKeywordToken(t.text)) this.syntax(t);
      const name = t.text.slice(0, -1);
      if (name === 'from') {
        if (fromTo) this.syntax(t);
        rule.from = this.ruleAddress();
        const to = this.next();
        if (!to || to.text !== 'to:') this.syntax(to);
        rule.to = this.ruleAddress();
        fromTo = true;
        continue;
      }
      if (name === 'to') this.syntax(t); // `to:` only right after `from: ...`
      if (kind === 'route') this.routeKeyword(t, name, rule as Route);
      else this.ruleKeyword(t, name, kind, rule as Rule);
    }
  }

  private ruleKeyword(t: Token, name: string, kind: 'client' | 'socks', rule: Rule): void {
    const socksOnly = kind === 'socks';
    switch (name) {
      case 'command':
        if (!socksOnly) this.syntax(t);
        rule.command = [...(rule.command ?? []), ...this.enumList<Command>(this.values(), COMMANDS)];
        return;
      case 'protocol':
        if (!socksOnly) this.fail(E.value, t, msg.unsupportedOption());
        rule.protocol = [...(rule.protocol ?? []), ...this.enumList<Protocol>(this.values(), PROTOCOLS)];
        return;
      case 'proxyprotocol':
        if (!socksOnly) this.syntax(t);
        rule.proxyProtocol = [...(rule.proxyProtocol ?? []), ...this.enumList<ProxyProtocol>(this.values(), PROXY_PROTOCOLS)];
        return;
      case 'udp.portrange': {
        if (!socksOnly) this.syntax(t);
        const spec = this.portSpecAfterKeyword(
          () => {
            const v = this.next();
            if (!v || v.nl || v.text === '}') this.syntax(v);
            return v;
          },
          () => this.peek(),
          () => this.i++,
          false,
        );
        if (spec.op !== 'range') this.syntax(t);
        rule.udpPortRange = { from: spec.port, to: spec.portEnd ?? spec.port };
        return;
      }
      case 'optimistic': {
        if (!socksOnly) this.syntax(t);
        const v = this.one(t, this.values());
        rule.optimistic = this.want(v, parseYesNo(v.text));
        return;
      }
      case 'log':
        rule.log = [...new Set([...rule.log, ...this.enumList(this.values(), LOG_EVENTS, { ioop: 'iooperation' as const })])];
        return;
      case 'socksmethod':
        rule.socksMethod = [...(rule.socksMethod ?? []), ...this.socksMethods(this.values())];
        return;
      case 'clientmethod':
        rule.clientMethod = [...(rule.clientMethod ?? []), ...this.clientMethods(this.values())];
        return;
      case 'method':
        if (kind === 'client') {
          this.warn(t, msg.deprecated('method', 'clientmethod'));
          rule.clientMethod = [...(rule.clientMethod ?? []), ...this.clientMethods(this.values())];
        } else {
          this.warn(t, msg.deprecated('method', 'socksmethod'));
          rule.socksMethod = [...(rule.socksMethod ?? []), ...this.socksMethods(this.values())];
        }
        return;
      case 'user':
      case 'group': {
        // As in Dante, the names run to the end of the line (a `}` there is a name too; `:` is an error).
        const vals: Token[] = [];
        for (let v = this.peek(); v && !v.nl; v = this.peek()) {
          vals.push(v);
          this.i++;
        }
        if (vals.length === 0) this.syntax(this.peek());
        const colon = vals.find((v) => v.text.includes(':'));
        if (colon) this.syntax(colon);
        if (vals.some((v) => v.text === '}')) this.swallowed = t;
        const names = vals.flatMap((v) => v.text.split(',')).filter((n) => n !== '' && n !== '}');
        rule[name] = [...(rule[name] ?? []), ...names];
        return;
      }
      case 'session.max':
        rule.session.max = this.number(t, this.values());
        return;
      case 'session.state.max':
        rule.session.stateMax = this.number(t, this.values());
        return;
      case 'session.throttle':
      case 'session.state.throttle': {
        const v = this.one(t, this.values());
        const m = /^([^/]+)\/([^/]+)$/.exec(v.text);
        if (!m) this.syntax(v);
        const throttle = { count: this.want(v, parseNumber(m[1])), seconds: this.want(v, parseNumber(m[2])) };
        if (name === 'session.throttle') rule.session.throttle = throttle;
        else rule.session.stateThrottle = throttle;
        return;
      }
      case 'session.state.key': {
        const v = this.one(t, this.values());
        if (v.text === 'hostid') this.fail(E.unsupported, v, msg.hostidUnsupported());
        if (v.text !== 'from') this.syntax(v);
        rule.session.stateKey = 'from';
        return;
      }
      case 'timeout.negotiate':
        rule.timeout.negotiate = this.number(t, this.values());
        return;
      case 'timeout.io': {
        const n = this.number(t, this.values());
        rule.timeout.ioTcp = n;
        rule.timeout.ioUdp = n;
        return;
      }
      case 'timeout.io.tcp':
        rule.timeout.ioTcp = this.number(t, this.values());
        return;
      case 'timeout.io.udp':
        rule.timeout.ioUdp = this.number(t, this.values());
        return;
      case 'timeout.connect':
        rule.timeout.connect = this.number(t, this.values());
        return;
      case 'timeout.tcp_fin_wait':
        rule.timeout.tcpFinWait = this.number(t, this.values());
        return;
      case 'pam.servicename':
        rule.pamServiceName = this.one(t, this.values()).text;
        return;
      case 'bandwidth': {
        const v = this.values();
        this.fail(E.unsupported, v[0] ?? t, msg.license('bandwidth'));
        return;
      }
      case 'libwrap':
        this.fail(E.unsupported, t, msg.badLibwrap());
        return;
    }
    if (/^gssapi\./.test(name)) this.fail(E.unsupported, this.values()[0] ?? t, msg.notLinked('GSSAPI'));
    if (/^ldap\./.test(name)) this.fail(E.unsupported, this.values()[0] ?? t, msg.notLinked('LDAP'));
    if (/^bsdauth\./.test(name)) this.fail(E.unsupported, this.values()[0] ?? t, msg.notLinked('bsdauth'));
    if (isSocketOption(name)) {
      const vals = this.values();
      if (vals.length === 0) this.syntax(this.peek());
      if (rule.action === 'block' && name.startsWith('external.')) this.fail(E.check, vals[0], msg.externalOptionInBlock());
      this.warn(t, `"${name}" is accepted but ignored by socks-server`);
      return;
    }
    this.syntax(t);
  }

  private checkRule(rule: Rule, close: Token): void {
    const g = this.config;
    const { session } = rule;
    if (session.stateThrottle && !session.stateKey) this.fail(E.check, close, msg.stateThrottleNoKey());
    if (session.stateMax !== undefined && !session.stateKey) this.fail(E.check, close, msg.stateMaxNoKey());
    if (session.stateKey && session.stateMax === undefined && !session.stateThrottle) {
      this.fail(E.check, close, msg.stateKeyAlone());
    }
    // Rule-local method lists must be subsets of the global ones, in either kind of rule.
    for (const m of rule.socksMethod ?? []) {
      if (!g.socksMethod.includes(m)) this.fail(E.check, close, msg.methodNotGlobal('method', m, g.socksMethod));
    }
    for (const m of rule.clientMethod ?? []) {
      if (!g.clientMethod.includes(m)) this.fail(E.check, close, msg.methodNotGlobal('clientmethod', m, g.clientMethod));
    }
    const wantsUser = rule.user !== undefined || rule.group !== undefined;
    if (rule.type === 'client') {
      const methods = rule.clientMethod ?? g.clientMethod;
      if (wantsUser && methods.every((m) => m === 'none')) this.fail(E.check, close, msg.clientRuleNeedsUser());
      return;
    }
    if (wantsUser) {
      // Only a rule for replies alone can never learn a user name.
      const repliesOnly = rule.command?.every((c) => c === 'udpreply' || c === 'bindreply') ?? false;
      if (repliesOnly && rule.command?.includes('udpreply')) this.fail(E.check, close, msg.udpReplyNeedsUser());
      const replyMethods = rule.clientMethod ?? g.clientMethod;
      if (repliesOnly && !replyMethods.some((m) => USERNAME_METHODS.has(m))) this.fail(E.check, close, msg.replyNeedsUser());
      if (rule.socksMethod && !rule.socksMethod.some((m) => USERNAME_METHODS.has(m))) {
        this.fail(E.check, close, msg.socksRuleNeedsUser(rule.socksMethod[0]));
      }
    }
    let methods = rule.socksMethod ?? g.socksMethod;
    if (wantsUser) methods = methods.filter((m) => USERNAME_METHODS.has(m));
    if (methods.length === 0) this.warn(close, msg.ruleNoMethods(rule.number));
  }

  /** `from:`/`to:` value: mask required for IPs; `0/0`; `.domain`; interface; hostname; optional port spec. */
  private ruleAddress(): RuleAddress {
    const t = this.next();
    if (!t || t.text === '{' || t.text === '}' || isKeywordToken(t.text)) return this.syntax(t);
    const addr = this.addressWord(t);
    const p = this.peek();
    if (p && p.text === 'port') {
      this.i++;
      return { ...addr, port: this.streamPortSpec() };
    }
    return addr;
  }

  private addressWord(t: Token): RuleAddress {
    const text = t.text;
    const slash = text.indexOf('/');
    if (slash >= 0) {
      const a = text.slice(0, slash);
      const maskText = text.slice(slash + 1);
      const digits = /^\d+/.exec(maskText)?.[0];
      if (digits === undefined) return this.syntax(t);
      const bits = Number(digits);
      if (a === '0') {
        if (bits !== 0) this.fail(E.value, t, msg.badAnyNetmask(digits));
        if (maskText !== digits) this.syntax(t);
        return { kind: 'any' };
      }
      const fam = ipFamily(a);
      if (!fam) return this.syntax(t);
      if (bits > (fam === 'IPv4' ? 32 : 128)) this.fail(E.value, t, msg.badNetmask(fam, digits));
      if (maskText !== digits) this.syntax(t);
      return fam === 'IPv4' ? { kind: 'ipv4', address: a, prefix: bits } : { kind: 'ipv6', address: a, prefix: bits };
    }
    if (isIPv4(text)) return this.fail(E.value, t, msg.noNetmask('IPv4'));
    if (isIPv6(text)) return this.fail(E.value, t, msg.noNetmask('IPv6'));
    if (text.startsWith('.')) {
      if (text.length < 2) this.syntax(t);
      return { kind: 'domain', suffix: text.slice(1).toLowerCase().replace(/\.$/, '') };
    }
    if (/^[0-9.]+$/.test(text) || /[^A-Za-z0-9_.:-]/.test(text)) return this.syntax(t);
    if (interfaceExists(text)) return { kind: 'interface', name: text };
    return { kind: 'hostname', name: text.toLowerCase().replace(/\.$/, '') };
  }

  // ---- route, monitor -------------------------------------------------------------------

  private route(start: Token): void {
    this.openBrace();
    const route: Route = {
      number: this.config.routes.length + 1,
      file: this.file,
      line: start.line,
      from: { kind: 'any' },
      to: { kind: 'any' },
      via: { kind: 'direct' },
    };
    (route as Partial<Route>).via = undefined;
    this.ruleBody('route', route, start);
    this.config.routes.push(route);
    this.warn(start, 'route { } is accepted but ignored: socks-server does not chain to upstream servers');
  }

  private routeKeyword(t: Token, name: string, route: Route): void {
    switch (name) {
      case 'via': {
        const v = this.next();
        if (!v || v.text === '}' || isKeywordToken(v.text)) return this.syntax(v);
        if (v.text === 'direct') {
          route.via = { kind: 'direct' };
          return;
        }
        let port = DEFAULT_INTERNAL_PORT;
        if (this.peek()?.text === 'port') {
          this.i++;
          port = this.streamPortSpec().port;
        }
        route.via = { kind: 'host', host: v.text, port };
        return;
      }
      case 'proxyprotocol':
        route.proxyProtocol = this.enumList<ProxyProtocol>(this.values(), PROXY_PROTOCOLS);
        return;
      case 'method':
      case 'socksmethod':
        route.method = this.socksMethods(this.values());
        return;
      case 'command':
        route.command = this.enumList<Command>(this.values(), COMMANDS);
        return;
      case 'protocol':
        route.protocol = this.enumList<Protocol>(this.values(), PROTOCOLS);
        return;
    }
    this.syntax(t);
  }

  /** `monitor { }` (alarms): skipped up to its closing brace. */
  private monitor(start: Token): void {
    this.openBrace();
    let alarms = false;
    for (;;) {
      const t = this.next();
      if (!t) this.fail(E.syntax, undefined, `${SYNTAX_ERROR}: missing "}" for the monitor opened on line ${start.line}`);
      if (t.text === '{') this.syntax(t);
      if (t.text.startsWith('alarm.')) alarms = true;
      if (t.text === '}') {
        if (!alarms) this.warn(t, msg.monitorNoAlarms());
        this.warn(start, 'monitor { } is accepted but ignored by socks-server');
        return;
      }
    }
  }

  // ---- checkconfig() --------------------------------------------------------------------

  private checkConfig(): void {
    const c = this.config;
    if (c.internal.length === 0) this.fail(E.check, null, msg.noInternal());
    if (c.external.length === 0) this.fail(E.check, null, msg.noExternal());
    if (c.socksMethod.length === 0) this.warn(undefined, msg.noSocksMethods());
    if (c.external.length > 1 && c.externalRotation === 'none') this.warn(undefined, msg.manyExternalsNoRotation());
    if (c.external.length === 1 && c.externalRotation === 'same-same') this.warn(undefined, msg.sameSameOneExternal());
    for (const m of c.socksMethod) {
      if (m.startsWith('pam.') || m === 'rfc931') {
        this.warn(undefined, `socksmethod "${m}" is accepted but not implemented by socks-server; requests that need it are blocked`);
      }
    }
  }
}

/** Parse danted.conf text. Throws ConfigError (file:line, token, Dante's complaint in .detail). */
export function parseDantedConfig(text: string, file: string): LoadResult {
  const lastLine = text.split(/\r?\n|\r/).length;
  try {
    return new DantedParser(tokenize(text), file, lastLine).parse();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(E.internal, file, 0, `internal parser error: ${(err as Error).message}`);
  }
}

export function loadDantedConfig(path: string): LoadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(E.open, path, 0, `could not open config file: ${(err as Error).message}`);
  }
  return parseDantedConfig(text, path);
}
