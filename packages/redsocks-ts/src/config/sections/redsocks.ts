import { EXTENSION_DEFAULTS, applyExtensionsOff, checkExtensions, dialDefaults, extensionKeys } from '../extensions';
import { ConfigValueError } from '@mptcp-proxy/common';
import type { KeyParser, ParseContext, SectionSpec } from '../section-spec';
import type { DiscloseSrc, OnProxyFail, RedsocksSection, UpstreamType } from '../types';
import { parseBool, parseUint16 } from '../values';
import { listenKeys, proxyKeys } from './shared-keys';

/** SOMAXCONN of current glibc/Linux headers, redsocks' `listenq` default. */
export const SOMAXCONN = 4096;

export interface RedsocksDraft extends RedsocksSection {
  rawType?: string;
  /** Extension keys this section sets itself (`extensions = off` leaves them alone). */
  explicit: Set<string>;
}

export const UPSTREAM_TYPES: readonly UpstreamType[] = ['socks4', 'socks5', 'http-connect', 'http-relay'];

/** redsocks2 / other forks' types, for the migration hint. */
const FOREIGN_TYPES: Record<string, string> = {
  direct: 'redsocks2\'s `direct` type does not exist in redsocks 0.5; route such traffic around the redirect rule instead',
  shadowsocks: 'redsocks2\'s `shadowsocks` type is not supported; use a SOCKS5 server on the far side (socks-server)',
  'https-connect': 'redsocks2\'s `https-connect` type is not supported; use `http-connect`',
  socks5h: '`socks5` already works for every destination; redsocks never sends host names',
};

const DISCLOSE: Record<string, DiscloseSrc> = {
  off: 'false',
  no: 'false',
  false: 'false',
  'X-Forwarded-For': 'X-Forwarded-For',
  Forwarded_ip: 'Forwarded_ip',
  Forwarded_ipport: 'Forwarded_ipport',
};

function parseDisclose(v: string): DiscloseSrc {
  if (!Object.prototype.hasOwnProperty.call(DISCLOSE, v)) throw new ConfigValueError(`disclose_src <${v}> is not parsed`);
  return DISCLOSE[v]!;
}

function parseOnProxyFail(v: string): OnProxyFail {
  if (v === 'close' || v === 'forward_http_err') return v;
  throw new ConfigValueError(`on_proxy_fail <${v}> is not parsed`);
}

export function defaultRedsocks(line: number): RedsocksDraft {
  return {
    line,
    localIp: '127.0.0.1',
    localPort: 0,
    ip: '127.0.0.1',
    port: 0,
    type: 'socks5',
    listenq: SOMAXCONN,
    splice: true,
    discloseSrc: 'false',
    onProxyFail: 'close',
    ...EXTENSION_DEFAULTS,
    ...dialDefaults(),
    fastopenDataPorts: [],
    explicit: new Set(),
    // `paths = auto` is the default in redsocks {} (not a key of its own, so not in EXTENSION_DEFAULTS)
    pathsAuto: true,
  };
}

const keys = new Map<string, KeyParser<RedsocksDraft>>([
  ...listenKeys,
  ...proxyKeys,
  ['type', (t, v) => void (t.rawType = v)],
  ['listenq', (t, v) => void (t.listenq = parseUint16(v))],
  ['splice', (t, v) => void (t.splice = parseBool(v))],
  ['disclose_src', (t, v) => void (t.discloseSrc = parseDisclose(v))],
  ['on_proxy_fail', (t, v) => void (t.onProxyFail = parseOnProxyFail(v))],
  ...extensionKeys.map(([key, parse]): [string, KeyParser<RedsocksDraft>] => [
    key,
    (t, v, ctx) => {
      parse(t, v, ctx);
      t.explicit.add(key);
    },
  ]),
]);

/** The warnings redsocks logs for credentials when the instance starts. */
function checkCredentials(t: RedsocksSection, ctx: ParseContext): void {
  if (t.type === 'socks5') {
    if ((t.login === undefined) !== (t.password === undefined)) {
      ctx.warn('Socks5 needs either both login and password or none of them');
      delete t.login;
      delete t.password;
    } else if (t.login !== undefined && t.password !== undefined) {
      const tooLong = Buffer.byteLength(t.login) > 255 ? 'login' : Buffer.byteLength(t.password) > 255 ? 'password' : undefined;
      if (tooLong !== undefined) {
        ctx.warn(`Socks5 ${tooLong} can't be more than 255 chars, <${tooLong === 'login' ? t.login : t.password}> is too long`);
        delete t.login;
        delete t.password;
      }
    }
  }
  if (t.type === 'socks4' && t.password !== undefined) {
    ctx.warn(`password <${t.password}> is ignored for socks4 connections`);
  }
  if (t.type === 'http-relay') ctx.warn('You should avoid `http-relay`, e.g. due to CVE-2009-0801');
}

export const redsocksSection: SectionSpec<RedsocksDraft> = {
  name: 'redsocks',
  keys,
  create: defaultRedsocks,
  onExit(t, ctx) {
    if (t.rawType === undefined) throw new ConfigValueError('no `type` for redsocks');
    if (!(UPSTREAM_TYPES as readonly string[]).includes(t.rawType)) {
      throw new ConfigValueError(`invalid \`type\` <${t.rawType}> for redsocks`, FOREIGN_TYPES[t.rawType] ?? `use one of ${UPSTREAM_TYPES.join(', ')}`);
    }
    t.type = t.rawType as UpstreamType;
    if (t.discloseSrc !== 'false' && t.type !== 'http-connect') {
      throw new ConfigValueError('only `http-connect` supports `disclose_src` at the moment');
    }
    if (t.onProxyFail !== 'close' && t.type !== 'http-connect') {
      throw new ConfigValueError('only `http-connect` supports `on_proxy_fail` at the moment');
    }
    applyExtensionsOff(t, t.explicit);
    checkExtensions(t);
    if (t.fastopen && t.mptcp !== 'off') {
      ctx.warn(
        'fastopen is not used on MPTCP connections (mptcp = off only): after a SYN with data, MPTCP receives at a fraction of the link rate on Linux 6.18 (docs/optimistic-connect.md, "TCP Fast Open")',
      );
    }
    checkCredentials(t, ctx);
  },
  commit(t, builder) {
    const { rawType: _t, explicit: _e, ...instance } = t;
    builder.config.redsocks.push(instance);
  },
};
