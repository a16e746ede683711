import { ConfigValueError } from '@mptcp-proxy/common';
import type { KeyParser, SectionSpec } from '../section-spec';
import type { BaseSection, RedirectorName } from '../types';
import { parseBool, parseInAddr, parseUint16, parseUint32 } from '../values';

/** Base section while it is being read: `redirector` is checked only at `}`. */
export interface BaseDraft extends BaseSection {
  rawRedirector?: string;
  logSet: boolean;
}

export function defaultBase(line = 0, present = false): BaseDraft {
  return {
    line,
    present,
    logDebug: false,
    logInfo: false,
    log: 'stderr',
    logSet: false,
    daemon: false,
    tcpKeepaliveTime: 0,
    tcpKeepaliveProbes: 0,
    tcpKeepaliveIntvl: 0,
    rlimitNofile: 0,
    redsocksConnMax: 0,
    connpresIdleTimeout: 7440,
    maxAcceptBackoff: 60000,
    metricsIp: '127.0.0.1',
    syslogIdent: 'redsocks-ts',
  };
}

const REDIRECTORS: readonly RedirectorName[] = ['iptables', 'generic'];

const keys = new Map<string, KeyParser<BaseDraft>>([
  ['log_debug', (t, v) => void (t.logDebug = parseBool(v))],
  ['log_info', (t, v) => void (t.logInfo = parseBool(v))],
  ['log', (t, v) => void ((t.log = v), (t.logSet = true))],
  ['daemon', (t, v) => void (t.daemon = parseBool(v))],
  ['user', (t, v) => void (t.user = v)],
  ['group', (t, v) => void (t.group = v)],
  ['chroot', (t, v) => void (t.chroot = v)],
  ['redirector', (t, v) => void (t.rawRedirector = v)],
  ['tcp_keepalive_time', (t, v) => void (t.tcpKeepaliveTime = parseUint16(v))],
  ['tcp_keepalive_probes', (t, v) => void (t.tcpKeepaliveProbes = parseUint16(v))],
  ['tcp_keepalive_intvl', (t, v) => void (t.tcpKeepaliveIntvl = parseUint16(v))],
  ['rlimit_nofile', (t, v) => void (t.rlimitNofile = parseUint32(v))],
  ['redsocks_conn_max', (t, v) => void (t.redsocksConnMax = parseUint32(v))],
  ['connpres_idle_timeout', (t, v) => void (t.connpresIdleTimeout = parseUint32(v))],
  ['max_accept_backoff', (t, v) => void (t.maxAcceptBackoff = parseUint32(v))],
  // extensions (docs/metrics.md; the syslog ident: docs/logging.md)
  ['metrics_ip', (t, v, ctx) => void (t.metricsIp = parseInAddr(v, ctx))],
  ['metrics_port', (t, v) => void (t.metricsPort = parseUint16(v))],
  ['syslog_ident', (t, v) => void (t.syslogIdent = parseIdent(v))],
]);

/** A syslog ident: a program name, no blanks or colons (they would break the syslog line). */
function parseIdent(v: string): string {
  if (!/^[A-Za-z0-9._-]{1,32}$/.test(v)) {
    throw new ConfigValueError(`syslog_ident <${v}> must be 1 to 32 letters, digits, '.', '_' or '-'`,
      'redsocks-ts (the default) or redsocks (the name redsocks 0.5 logs under)');
  }
  return v;
}

export const baseSection: SectionSpec<BaseDraft> = {
  name: 'base',
  keys,
  create: (line) => defaultBase(line, true),
  onEnter(builder) {
    if (builder.baseSeen) throw new ConfigValueError('only one instance of base is valid');
    builder.baseSeen = true;
  },
  onExit(t) {
    if (t.maxAcceptBackoff === 0) throw new ConfigValueError('`max_accept_backoff` must be positive, 0 ms is too low');
    if (t.rawRedirector === undefined) throw new ConfigValueError('no `redirector` set');
    if (!(REDIRECTORS as readonly string[]).includes(t.rawRedirector)) {
      const bsd = t.rawRedirector === 'pf' || t.rawRedirector === 'ipf';
      throw new ConfigValueError(
        `invalid \`redirector\` set <${t.rawRedirector}>`,
        bsd ? `\`${t.rawRedirector}\` exists only in BSD builds of redsocks; on Linux use iptables (REDIRECT) or generic (TPROXY)` : 'use iptables (REDIRECT) or generic (TPROXY)',
      );
    }
    t.redirector = t.rawRedirector as RedirectorName;
    if (!t.logSet) t.log = t.daemon ? 'syslog:daemon' : 'stderr';
  },
  commit(t, builder) {
    builder.config.base = toBase(t);
  },
};

export function toBase(d: BaseDraft): BaseSection {
  const { rawRedirector: _r, logSet: _l, ...base } = d;
  return base;
}
