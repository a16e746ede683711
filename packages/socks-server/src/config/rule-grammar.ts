import { isIPv4, isIPv6 } from 'node:net';
import { checkRule } from './checks';
import { DEFAULT_INTERNAL_PORT } from './defaults';
import { msg, SYNTAX_ERROR } from './dante-messages';
import { COMMANDS, LOG_EVENTS, PROTOCOLS, PROXY_PROTOCOLS, isSocketOption } from './keywords';
import { isKeywordToken, type Token } from './lexer';
import { ignored } from './settings';
import { E, type TokenCursor } from './token-cursor';
import type { Command, DantedConfig, LogEvent, Protocol, ProxyProtocol, Route, Rule, RuleAddress } from './types';
import { ipFamily, parseYesNo } from './values';

type RuleKind = 'client' | 'socks' | 'route';

const RULE_WORDS: ReadonlySet<string> = new Set(['client', 'socks', 'hostid', 'route', 'monitor', 'pass', 'block']);

/**
 * The rule part of danted.conf: `client|socks pass|block { ... }`, `route { }` and
 * `monitor { }` blocks, their keywords and `from:`/`to:` addresses.
 */
export class RuleGrammar {
  /** A rule or route has started: settings may no longer follow (Dante's order). */
  seen = false;
  /** A `user:`/`group:` line that swallowed a `}`, for a hint if the block never closes. */
  private swallowed: Token | undefined;

  constructor(
    private readonly c: TokenCursor,
    private readonly config: DantedConfig,
  ) {}

  /** `t` is a word at the start of a block (not a `keyword:`). */
  start(t: Token): void {
    const c: TokenCursor = this.c;
    const word = t.text;
    if (!RULE_WORDS.has(word)) c.syntax(t);
    if (!t.nl) c.syntax(t); // a rule keyword must start a line
    this.seen = true;
    if (word === 'hostid') c.fail(E.unsupported, t, msg.hostidUnsupported());
    if (word === 'route') return this.route(t);
    if (word === 'monitor') return this.monitor(t);
    if (word === 'pass' || word === 'block') {
      c.warn(t, msg.deprecated(word, `socks ${word}`));
      return this.rule('socks', word, t);
    }
    const action = c.next();
    if (!action || (action.text !== 'pass' && action.text !== 'block')) c.syntax(action);
    this.rule(word as 'client' | 'socks', action.text as 'pass' | 'block', t);
  }

  private openBrace(): Token {
    const b = this.c.next();
    if (!b || b.text !== '{') this.c.syntax(b);
    return b;
  }

  private rule(type: 'client' | 'socks', action: 'pass' | 'block', start: Token): void {
    this.openBrace();
    const list = type === 'client' ? this.config.clientRules : this.config.socksRules;
    const rule: Rule = {
      type,
      action,
      number: list.length + 1,
      file: this.c.file,
      line: start.line,
      from: { kind: 'any' },
      to: { kind: 'any' },
      log: [],
      session: {},
      timeout: {},
    };
    const close = this.ruleBody(type, rule, start);
    checkRule(this.c, this.config, rule, close);
    list.push(rule);
  }

  /** Reads keywords up to the closing brace; returns the `}` token. */
  private ruleBody(kind: RuleKind, rule: Rule | Route, start: Token): Token {
    const c: TokenCursor = this.c;
    let fromTo = false;
    for (;;) {
      const t = c.next();
      if (!t) {
        const hint = this.swallowed
          ? ` (the "${this.swallowed.text}" list on line ${this.swallowed.line} runs to the end of its line, so a "}" there is taken as a name)`
          : '';
        return c.fail(E.syntax, undefined, `${SYNTAX_ERROR}: missing "}" for the rule opened on line ${start.line}${hint}`);
      }
      if (t.text === '}') {
        if (!fromTo) c.syntax(t);
        if (kind === 'route' && !(rule as Route).via) c.syntax(t);
        return t;
      }
      if (t.text === 'redirect' && kind !== 'route') c.fail(E.unsupported, t, msg.license('redirect'));
      if (!isKeywordToken(t.text)) c.syntax(t);
      const name = t.text.slice(0, -1);
      if (name === 'from') {
        if (fromTo) c.syntax(t);
        rule.from = this.ruleAddress();
        const to = c.next();
        if (!to || to.text !== 'to:') c.syntax(to);
        rule.to = this.ruleAddress();
        fromTo = true;
        continue;
      }
      if (name === 'to') c.syntax(t); // `to:` only right after `from: ...`
      if (kind === 'route') this.routeKeyword(t, name, rule as Route);
      else this.ruleKeyword(t, name, kind, rule as Rule);
    }
  }

  private ruleKeyword(t: Token, name: string, kind: 'client' | 'socks', rule: Rule): void {
    const c: TokenCursor = this.c;
    const socksOnly = kind === 'socks';
    switch (name) {
      case 'command':
        if (!socksOnly) c.syntax(t);
        rule.command = [...(rule.command ?? []), ...c.enumList<Command>(c.values(), COMMANDS)];
        return;
      case 'protocol':
        if (!socksOnly) c.fail(E.value, t, msg.unsupportedOption());
        rule.protocol = [...(rule.protocol ?? []), ...c.enumList<Protocol>(c.values(), PROTOCOLS)];
        return;
      case 'proxyprotocol':
        if (!socksOnly) c.syntax(t);
        rule.proxyProtocol = [...(rule.proxyProtocol ?? []), ...c.enumList<ProxyProtocol>(c.values(), PROXY_PROTOCOLS)];
        return;
      case 'udp.portrange': {
        if (!socksOnly) c.syntax(t);
        const spec = c.portSpecAfterKeyword(
          () => {
            const v = c.next();
            if (!v || v.nl || v.text === '}') c.syntax(v);
            return v;
          },
          () => c.peek(),
          () => c.skip(),
          false,
        );
        if (spec.op !== 'range') c.syntax(t);
        rule.udpPortRange = { from: spec.port, to: spec.portEnd ?? spec.port };
        return;
      }
      case 'optimistic': {
        if (!socksOnly) c.syntax(t);
        const v = c.one(c.values());
        rule.optimistic = c.want(v, parseYesNo(v.text));
        return;
      }
      case 'log': {
        const events = c.enumList<LogEvent>(c.values(), LOG_EVENTS, { ioop: 'iooperation' });
        const unlogged = events.filter((e) => e === 'data' || e === 'iooperation' || e === 'tcpinfo');
        if (unlogged.length > 0) c.warn(t, ignored(`log: ${unlogged.join(' ')}`, 'only connect, disconnect and error are logged'));
        rule.log = [...new Set([...rule.log, ...events])];
        return;
      }
      case 'socksmethod':
        rule.socksMethod = [...(rule.socksMethod ?? []), ...c.socksMethods(c.values())];
        return;
      case 'clientmethod':
        rule.clientMethod = [...(rule.clientMethod ?? []), ...c.clientMethods(c.values())];
        return;
      case 'method':
        if (kind === 'client') {
          c.warn(t, msg.deprecated('method', 'clientmethod'));
          rule.clientMethod = [...(rule.clientMethod ?? []), ...c.clientMethods(c.values())];
        } else {
          c.warn(t, msg.deprecated('method', 'socksmethod'));
          rule.socksMethod = [...(rule.socksMethod ?? []), ...c.socksMethods(c.values())];
        }
        return;
      case 'user':
      case 'group': {
        // As in Dante, the names run to the end of the line (a `}` there is a name too; `:` is an error).
        const vals: Token[] = [];
        for (let v = c.peek(); v && !v.nl; v = c.peek()) {
          vals.push(v);
          c.skip();
        }
        if (vals.length === 0) c.syntax(c.peek());
        const colon = vals.find((v) => v.text.includes(':'));
        if (colon) c.syntax(colon);
        if (vals.some((v) => v.text === '}')) this.swallowed = t;
        const names = vals.flatMap((v) => v.text.split(',')).filter((n) => n !== '' && n !== '}');
        rule[name] = [...(rule[name] ?? []), ...names];
        return;
      }
      case 'session.max':
        rule.session.max = c.number(c.values());
        return;
      case 'session.state.max':
        rule.session.stateMax = c.number(c.values());
        return;
      case 'session.throttle':
        rule.session.throttle = c.rate(c.values());
        return;
      case 'session.state.throttle':
        rule.session.stateThrottle = c.rate(c.values());
        return;
      case 'session.state.key': {
        const v = c.one(c.values());
        if (v.text === 'hostid') c.fail(E.unsupported, v, msg.hostidUnsupported());
        if (v.text !== 'from') c.syntax(v);
        rule.session.stateKey = 'from';
        return;
      }
      case 'timeout.negotiate':
        rule.timeout.negotiate = c.number(c.values());
        // A client-rule's applies from accept (as the global one); a socks-rule is matched after the negotiation.
        if (socksOnly) c.warn(t, ignored('timeout.negotiate in a socks-rule', 'socks-rules are matched once the negotiation is over'));
        return;
      case 'timeout.io': {
        const n = c.number(c.values());
        rule.timeout.ioTcp = n;
        rule.timeout.ioUdp = n;
        return;
      }
      case 'timeout.io.tcp':
        rule.timeout.ioTcp = c.number(c.values());
        return;
      case 'timeout.io.udp':
        rule.timeout.ioUdp = c.number(c.values());
        return;
      case 'timeout.connect':
        rule.timeout.connect = c.number(c.values());
        return;
      case 'timeout.tcp_fin_wait':
        rule.timeout.tcpFinWait = c.number(c.values());
        return;
      case 'pam.servicename':
        rule.pamServiceName = c.one(c.values()).text;
        c.warn(t, ignored('pam.servicename', 'PAM methods are refused at start'));
        return;
      case 'bandwidth': {
        const v = c.values();
        c.fail(E.unsupported, v[0] ?? t, msg.license('bandwidth'));
        return;
      }
      case 'libwrap':
        c.fail(E.unsupported, t, msg.badLibwrap());
        return;
    }
    c.refuseUnlinked(name, () => c.values()[0] ?? t);
    if (isSocketOption(name)) {
      const vals = c.values();
      if (vals.length === 0) c.syntax(c.peek());
      if (rule.action === 'block' && name.startsWith('external.')) c.fail(E.check, vals[0], msg.externalOptionInBlock());
      c.warn(t, `"${name}" is accepted but ignored by socks-server`);
      return;
    }
    c.syntax(t);
  }

  /** `from:`/`to:` value: mask required for IPs; `0/0`; `.domain`; interface; hostname; optional port spec. */
  private ruleAddress(): RuleAddress {
    const c: TokenCursor = this.c;
    const t = c.next();
    if (!t || t.text === '{' || t.text === '}' || isKeywordToken(t.text)) return c.syntax(t);
    const addr = this.addressWord(t);
    const p = c.peek();
    if (p && p.text === 'port') {
      c.skip();
      return { ...addr, port: c.streamPortSpec() };
    }
    return addr;
  }

  private addressWord(t: Token): RuleAddress {
    const c: TokenCursor = this.c;
    const text = t.text;
    const slash = text.indexOf('/');
    if (slash >= 0) {
      const a = text.slice(0, slash);
      const maskText = text.slice(slash + 1);
      const digits = /^\d+/.exec(maskText)?.[0];
      if (digits === undefined) return c.syntax(t);
      const bits = Number(digits);
      if (a === '0') {
        if (bits !== 0) c.fail(E.value, t, msg.badAnyNetmask(digits));
        if (maskText !== digits) c.syntax(t);
        return { kind: 'any' };
      }
      const fam = ipFamily(a);
      if (!fam) return c.syntax(t);
      if (bits > (fam === 'IPv4' ? 32 : 128)) c.fail(E.value, t, msg.badNetmask(fam, digits));
      if (maskText !== digits) c.syntax(t);
      return fam === 'IPv4' ? { kind: 'ipv4', address: a, prefix: bits } : { kind: 'ipv6', address: a, prefix: bits };
    }
    if (isIPv4(text)) return c.fail(E.value, t, msg.noNetmask('IPv4'));
    if (isIPv6(text)) return c.fail(E.value, t, msg.noNetmask('IPv6'));
    if (text.startsWith('.')) {
      if (text.length < 2) c.syntax(t);
      return { kind: 'domain', suffix: text.slice(1).toLowerCase().replace(/\.$/, '') };
    }
    if (/^[0-9.]+$/.test(text) || /[^A-Za-z0-9_.:-]/.test(text)) return c.syntax(t);
    if (c.sys.interfaceExists(text)) return { kind: 'interface', name: text };
    return { kind: 'hostname', name: text.toLowerCase().replace(/\.$/, '') };
  }

  // ---- route, monitor -------------------------------------------------------------------

  private route(start: Token): void {
    this.openBrace();
    const route: Route = {
      number: this.config.routes.length + 1,
      file: this.c.file,
      line: start.line,
      from: { kind: 'any' },
      to: { kind: 'any' },
      via: { kind: 'direct' },
    };
    (route as Partial<Route>).via = undefined;
    this.ruleBody('route', route, start);
    this.config.routes.push(route);
    this.c.warn(start, 'route { } is accepted but ignored: socks-server does not chain to upstream servers');
  }

  private routeKeyword(t: Token, name: string, route: Route): void {
    const c: TokenCursor = this.c;
    switch (name) {
      case 'via': {
        const v = c.next();
        if (!v || v.text === '}' || isKeywordToken(v.text)) return c.syntax(v);
        if (v.text === 'direct') {
          route.via = { kind: 'direct' };
          return;
        }
        let port = DEFAULT_INTERNAL_PORT;
        if (c.peek()?.text === 'port') {
          c.skip();
          port = c.streamPortSpec().port;
        }
        route.via = { kind: 'host', host: v.text, port };
        return;
      }
      case 'proxyprotocol':
        route.proxyProtocol = c.enumList<ProxyProtocol>(c.values(), PROXY_PROTOCOLS);
        return;
      case 'method':
      case 'socksmethod':
        route.method = c.socksMethods(c.values());
        return;
      case 'command':
        route.command = c.enumList<Command>(c.values(), COMMANDS);
        return;
      case 'protocol':
        route.protocol = c.enumList<Protocol>(c.values(), PROTOCOLS);
        return;
    }
    c.syntax(t);
  }

  /** `monitor { }` (alarms): skipped up to its closing brace. */
  private monitor(start: Token): void {
    const c: TokenCursor = this.c;
    this.openBrace();
    let alarms = false;
    for (;;) {
      const t = c.next();
      if (!t) c.fail(E.syntax, undefined, `${SYNTAX_ERROR}: missing "}" for the monitor opened on line ${start.line}`);
      if (t.text === '{') c.syntax(t);
      if (t.text.startsWith('alarm.')) alarms = true;
      if (t.text === '}') {
        if (!alarms) c.warn(t, msg.monitorNoAlarms());
        c.warn(start, 'monitor { } is accepted but ignored by socks-server');
        return;
      }
    }
  }
}
