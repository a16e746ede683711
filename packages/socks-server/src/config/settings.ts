import { isIPv4 } from 'node:net';
import { DEFAULT_INTERNAL_PORT } from './defaults';
import { msg } from './dante-messages';
import { MPTCP_MODES, isSocketOption } from './keywords';
import type { Token } from './lexer';
import { E, type TokenCursor } from './token-cursor';
import { readPem } from '@mptcp-proxy/common';
import type {
  AddressFamily, DantedConfig, ExternalAddress, InternalAddress, MptcpMode, SettingPos, Timeouts,
} from './types';
import { ipFamily, parseLogTarget, parseYesNo } from './values';

type SettingHandler = (kw: Token, vals: Token[]) => void;

/** The warning for a Dante keyword that is accepted (it changes nothing we do) but has no effect here. */
export function ignored(what: string, why: string): string {
  return `"${what}" is accepted but has no effect in socks-server: ${why}`;
}

/**
 * The server settings of danted.conf (`keyword: value` lines before the rules): one
 * handler per keyword, each writing into the config being built.
 */
export class SettingsTable {
  private readonly table: Record<string, SettingHandler>;
  /** The line of each setting's last occurrence (for messages about a setting). */
  readonly lines: Record<string, number> = {};

  constructor(
    private readonly c: TokenCursor,
    private readonly config: DantedConfig,
  ) {
    this.table = this.build();
  }

  /** `kw` is a `keyword:` token at the start of a setting; reads its values. */
  setting(kw: Token): void {
    const c: TokenCursor = this.c;
    const name = kw.text.slice(0, -1);
    const vals = c.values();
    const handler = this.table[name];
    if (handler) {
      handler(kw, vals);
      this.lines[name] = kw.line;
      return;
    }
    if (isSocketOption(name) || /^cpu\.(mask|schedule)\./.test(name) || /^(internal|external)\.log\./.test(name)) {
      if (vals.length === 0) c.syntax(c.peek());
      c.warn(kw, `"${name}" is accepted but ignored by socks-server`);
      return;
    }
    c.refuseUnlinked(name, () => vals[0] ?? kw);
    c.syntax(kw);
  }

  private build(): Record<string, SettingHandler> {
    const p: TokenCursor = this.c;
    const c = this.config;
    const pos = (t: Token): SettingPos => ({ line: t.line, col: t.col, text: t.text });
    const pemSetting = (field: 'cert' | 'key' | 'clientCa', what: 'CERTIFICATE' | 'PRIVATE KEY') => (_kw: Token, vals: Token[]) => {
      const t = p.one(vals);
      const r = readPem(t.text, what);
      if ('error' in r) p.fail(E.value, t, r.error);
      c.ext.tls[field] = { pem: r.pem, at: pos(t) };
    };
    const timeout = (field: keyof Timeouts | 'io') => (_kw: Token, vals: Token[]) => {
      const n = p.number(vals);
      if (field === 'io') {
        c.timeout.ioTcp = n;
        c.timeout.ioUdp = n;
      } else c.timeout[field] = n;
    };
    const yesNo = (kw: Token, vals: Token[]): boolean => p.want(vals[0] ?? kw, parseYesNo(p.one(vals).text));
    const logTargets = (into: 'logoutput' | 'errorlog') => (_kw: Token, vals: Token[]) => {
      if (vals.length === 0) p.syntax(p.peek());
      for (const v of vals) {
        const { target, warning } = parseLogTarget(v.text);
        if (warning) p.warn(v, warning);
        c[into].push(target);
      }
    };
    const userSetting = (field: 'privileged' | 'unprivileged' | 'libwrap') => (_kw: Token, vals: Token[]) => {
      const t = p.one(vals);
      if (!p.sys.userExists(t.text)) p.fail(E.system, t, msg.noSuchUser(t.text));
      c.user[field] = t.text;
    };
    const families = (side: 'internal' | 'external') => (kw: Token, vals: Token[]) => {
      if (c[side].length > 0) p.fail(E.value, kw, msg.protocolAfterAddress(side));
      const list = p.enumList<'ipv4' | 'ipv6'>(vals, new Set(['ipv4', 'ipv6']));
      c[side === 'internal' ? 'internalProtocol' : 'externalProtocol'] = [...new Set(list)];
    };
    const socksmethod = (_kw: Token, vals: Token[]) => {
      c.socksMethod = p.socksMethods(vals);
      const none = c.socksMethod.indexOf('none');
      if (none >= 0 && none < c.socksMethod.length - 1) p.warn(undefined, msg.noneShadowsMethods(c.socksMethod[none + 1]));
    };
    const obsolete = (kw: Token, vals: Token[]) => {
      p.warn(kw, msg.obsolete([kw.text, ...vals.map((v) => v.text)].join(' ')));
    };
    const mptcp = (field: 'mptcp' | 'mptcpExternal') => (_kw: Token, vals: Token[]) => {
      const v = p.one(vals);
      if (!MPTCP_MODES.has(v.text)) p.syntax(v);
      c.ext[field] = v.text as MptcpMode;
    };
    const privateMethod = (field: 'optimisticMethod' | 'optimisticAuthMethod') => (_kw: Token, vals: Token[]) => {
      const n = p.number(vals);
      if (n < 0x80 || n > 0xfe) p.fail(E.value, vals[0], `private SOCKS5 method must be 0x80 - 0xfe, not ${n}`);
      c.ext[field] = n;
    };
    return {
      logoutput: logTargets('logoutput'),
      errorlog: logTargets('errorlog'),
      debug: (_kw, vals) => {
        c.debug = p.number(vals);
      },
      internal: (kw, vals) => {
        const a = this.internalAddress(vals);
        if (this.familyAllowed(a, c.internalProtocol)) c.internal.push(a);
        else this.ignoredAddress(kw, a.value, 'internal');
      },
      external: (kw, vals) => {
        const a = this.externalAddress(vals);
        if (this.familyAllowed(a, c.externalProtocol)) c.external.push(a);
        else this.ignoredAddress(kw, a.value, 'external');
      },
      'internal.protocol': families('internal'),
      'external.protocol': families('external'),
      'external.rotation': (kw, vals) => {
        c.externalRotation = p.enumList<'none' | 'route' | 'same-same'>([p.one(vals)], new Set(['none', 'route', 'same-same']))[0];
        if (c.externalRotation === 'route') p.warn(kw, 'external.rotation "route" lets the kernel pick the source address');
      },
      socksmethod,
      method: (kw, vals) => {
        p.warn(kw, msg.deprecated('method', 'socksmethod'));
        socksmethod(kw, vals);
      },
      clientmethod: (_kw, vals) => {
        c.clientMethod = p.clientMethods(vals);
      },
      'user.privileged': userSetting('privileged'),
      'user.unprivileged': userSetting('unprivileged'),
      'user.notprivileged': userSetting('unprivileged'), // Dante 1.2 name, accepted silently by 1.4.2
      'user.libwrap': (kw, vals) => {
        userSetting('libwrap')(kw, vals);
        p.warn(kw, ignored('user.libwrap', 'libwrap is not supported'));
      },
      'timeout.negotiate': timeout('negotiate'),
      'timeout.io': timeout('io'),
      'timeout.io.tcp': timeout('ioTcp'),
      'timeout.io.udp': timeout('ioUdp'),
      'timeout.connect': timeout('connect'),
      'timeout.tcp_fin_wait': timeout('tcpFinWait'),
      connecttimeout: (kw, vals) => {
        p.warn(kw, msg.deprecated('connecttimeout', 'timeout.connect'));
        timeout('connect')(kw, vals);
      },
      iotimeout: (kw, vals) => {
        p.warn(kw, msg.deprecated('iotimeout', 'timeout.io'));
        timeout('io')(kw, vals);
      },
      'udp.connectdst': (kw, vals) => {
        c.udpConnectDst = yesNo(kw, vals);
      },
      srchost: (_kw, vals) => {
        c.srchost.push(...p.enumList(vals, new Set(['nodnsmismatch', 'nodnsunknown', 'checkreplyauth'])));
      },
      compatibility: (kw, vals) => {
        c.compatibility.push(...p.enumList(vals, new Set(['sameport', 'draft-5.05'])));
        p.warn(kw, ignored('compatibility', 'the source port is always chosen by the kernel, and the draft-5.05 '
          + 'USECLIENTSPORT extension is not implemented'));
      },
      extension: (_kw, vals) => {
        p.enumList([p.one(vals)], new Set(['bind']));
        c.extensionBind = true;
        p.warn(vals[0], msg.extensionBind());
        p.warn(vals[0], ignored('extension: bind', 'BIND requests are served as RFC 1928 defines them'));
      },
      'libwrap.hosts_access': (kw, vals) => {
        // hosts.allow/hosts.deny would be access control we do not have: refused, never ignored.
        if (yesNo(kw, vals)) p.fail(E.unsupported, vals[0], 'libwrap (hosts.allow/hosts.deny) is not supported by socks-server; use client-rules');
      },
      'child.maxrequests': (kw, vals) => {
        p.number(vals);
        p.warn(kw, ignored('child.maxrequests', 'socks-server has no child processes to recycle'));
      },
      'child.maxidle': obsolete,
      localdomain: obsolete,
      'pam.servicename': (kw, vals) => {
        p.one(vals);
        p.warn(kw, ignored('pam.servicename', 'PAM methods are refused at start'));
      },
      // Our extensions (see types.ts).
      'extension.optimistic': (kw, vals) => {
        c.ext.optimistic = yesNo(kw, vals);
        // Written out, it also makes the client rules that name peers a pool allowlist.
        c.ext.optimisticExplicit = true;
      },
      'extension.optimistic.method': privateMethod('optimisticMethod'),
      'extension.optimistic.authmethod': privateMethod('optimisticAuthMethod'),
      'extension.optimistic.maxearly': (_kw, vals) => {
        c.ext.optimisticMaxEarly = p.number(vals);
      },
      'extension.fastopen': (_kw, vals) => {
        c.ext.fastOpen = p.number(vals);
      },
      'extension.mptcp': mptcp('mptcp'),
      'extension.mptcp.external': mptcp('mptcpExternal'),
      'extension.timeout.negotiate.pool': (_kw, vals) => {
        c.ext.timeoutNegotiatePool = p.number(vals);
      },
      'extension.logformat': (_kw, vals) => {
        c.ext.logFormat = p.enumList<'text' | 'json'>([p.one(vals)], new Set(['text', 'json']))[0];
      },
      'extension.passwordfile': (_kw, vals) => {
        c.ext.passwordFile = p.one(vals).text;
      },
      'extension.auth.failures': (_kw, vals) => {
        const r = p.rate(vals);
        if (r.count > 0 && r.seconds === 0) p.fail(E.value, vals[0], 'the time in "failures/seconds" must be at least 1 second');
        c.ext.authFailures = r;
      },
      'extension.metrics': (kw, vals) => {
        const [addr, ...rest] = vals;
        if (addr === undefined) p.syntax(p.peek());
        if (!ipFamily(addr.text)) p.fail(E.value, addr, `extension.metrics wants an IP address (127.0.0.1 or ::1 to keep it local), not "${addr.text}"`);
        if (rest.length === 0) p.fail(E.value, kw, 'extension.metrics needs a port: extension.metrics: 127.0.0.1 port = 9102');
        const spec = p.portSpecFrom(rest);
        if (spec.op !== 'eq') p.syntax(rest[1]);
        c.ext.metrics = { host: addr.text, port: spec.port, line: addr.line };
      },
      'extension.tls.internal': (kw, vals) => {
        const [addr, ...rest] = vals;
        if (addr === undefined) p.syntax(p.peek());
        if (!ipFamily(addr.text)) p.fail(E.value, addr, `extension.tls.internal wants an IP address, not "${addr.text}"`);
        if (rest.length === 0) p.fail(E.value, kw, 'extension.tls.internal needs a port: extension.tls.internal: 10.0.0.1 port = 1443');
        const spec = p.portSpecFrom(rest);
        if (spec.op !== 'eq' || spec.port === 0) p.syntax(rest[rest.length - 1]);
        c.ext.tls.internal.push({ host: addr.text, port: spec.port, at: pos(addr) });
      },
      'extension.tls.cert': pemSetting('cert', 'CERTIFICATE'),
      'extension.tls.key': pemSetting('key', 'PRIVATE KEY'),
      'extension.tls.clientca': pemSetting('clientCa', 'CERTIFICATE'),
      'extension.syslog.ident': (_kw, vals) => {
        const t = p.one(vals);
        if (!/^[A-Za-z0-9._-]{1,32}$/.test(t.text)) p.fail(E.value, t, 'a syslog ident is 1 to 32 letters, digits, ".", "_" or "-" (socks-server, or danted for Dante\'s name)');
        c.ext.syslogIdent = t.text;
      },
    };
  }

  /** Dante ignores addresses of a family left out of `*.protocol` (hostnames are kept; see docs). */
  private familyAllowed(a: { kind: string; value: string }, families: AddressFamily[]): boolean {
    if (a.kind === 'address') return families.includes(isIPv4(a.value) ? 'ipv4' : 'ipv6');
    if (a.kind === 'interface') {
      const fams = this.c.sys.interfaceAddresses(a.value).map((x) => (isIPv4(x) ? 'ipv4' : 'ipv6'));
      return fams.length === 0 || fams.some((f) => families.includes(f));
    }
    return true;
  }

  private ignoredAddress(kw: Token, value: string, side: 'internal' | 'external'): void {
    // Stored as a warning: the `${side}.protocol` setting made Dante skip this address.
    this.c.warn(kw, `${side} address "${value}" is ignored: its address family is not in ${side}.protocol`);
  }

  private internalAddress(vals: Token[]): InternalAddress {
    const p: TokenCursor = this.c;
    if (vals.length === 0) p.syntax(p.peek());
    const [addr, ...rest] = vals;
    let port = DEFAULT_INTERNAL_PORT;
    if (rest.length > 0) {
      const spec = p.portSpecFrom(rest);
      if (spec.op === 'range') p.syntax(rest[1]);
      port = spec.port;
      if (port === 0) p.fail(E.value, rest[rest.length - 1], msg.noPortToBind(addr.text));
    }
    return { ...this.hostOrInterface(addr), port, file: p.file, line: addr.line };
  }

  private externalAddress(vals: Token[]): ExternalAddress {
    const addr = this.c.one(vals);
    return { ...this.hostOrInterface(addr), file: this.c.file, line: addr.line };
  }

  /** `internal:`/`external:` address: IP (no mask), interface name, or a hostname that must resolve. */
  private hostOrInterface(t: Token): { kind: 'address' | 'interface' | 'hostname'; value: string } {
    const p: TokenCursor = this.c;
    const slash = t.text.indexOf('/');
    if (slash >= 0) {
      const fam = ipFamily(t.text.slice(0, slash));
      if (fam) p.fail(E.value, t, msg.netmaskNotAllowed(fam));
      p.syntax(t);
    }
    if (ipFamily(t.text)) return { kind: 'address', value: t.text };
    if (p.sys.interfaceExists(t.text)) return { kind: 'interface', value: t.text };
    if (!p.sys.hostnameResolves(t.text)) p.fail(E.system, t, msg.cannotResolve(t.text));
    return { kind: 'hostname', value: t.text };
  }
}
