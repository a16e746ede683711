import { createSecureContext } from 'node:tls';
import { ConfigValueError, parsePin, readPem } from '@mptcp-proxy/common';
import type { KeyParser } from './section-spec';
import { strtoul } from './strtoul';
import type { DialKeys, MptcpMode, OptimisticMode, PoolSize, RedsocksSection, TlsClientConfig, TlsKeys } from './types';
import { parseBool, parseUint16, parseUint32 } from './values';
import { parseWanPaths } from './wan-paths';

/** Defaults of the DialKeys (`mptcp`, `paths`, the path probes). */
export function dialDefaults(): DialKeys {
  return { mptcp: 'auto', paths: [], pathProbeInterval: 1000, pathBackupProbeInterval: 10000, pathProbeTimeout: 1000 };
}

/** `auto` (read from the kernel), `off` or "" (no paths), or the fixed list. */
function parsePaths(t: DialKeys, v: string): void {
  const word = v.trim();
  t.pathsAuto = word === 'auto';
  t.paths = word === 'auto' || word === 'off' ? [] : parseWanPaths(v);
}

/**
 * Defaults of the keys redsocks 0.5 does not have (in `redsocks {}`): fast by default (issue 10).
 * `extensions = off` turns every one of them back to redsocks 0.5's behaviour (REDSOCKS_05, below).
 */
export const EXTENSION_DEFAULTS = {
  extensions: true,
  ...dialDefaults(),
  optimistic: 'auto' as OptimisticMode,
  optimisticMaxEarly: 65536,
  optimisticGatherMs: 5,
  optimisticMethod: 0xa5,
  optimisticAuthMethod: 0xa6,
  optimisticCacheTtl: 86400,
  fastopen: false,
  fastopenDataPorts: [] as number[],
  poolSize: 'auto' as PoolSize,
  poolIdleTimeout: 20,
};

/**
 * What `extensions = off` sets for every key the section does not set itself: redsocks 0.5's
 * exact bytes on the wire (plain TCP, the sequential SOCKS5 exchange, one connection per client
 * made when the client connects).
 */
const REDSOCKS_05: Partial<RedsocksSection> = { mptcp: 'off', optimistic: 'off', fastopen: false, poolSize: 0, pathsAuto: false };

/** Extension key name (as written in redsocks.conf) of a RedsocksSection field. */
const keyName = (field: string): string => (field === 'pathsAuto' ? 'paths' : field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));

/** `extensions = off`: the extension keys not in `explicit` (key names) go back to redsocks 0.5. */
export function applyExtensionsOff(t: RedsocksSection, explicit: ReadonlySet<string>): void {
  if (t.extensions) return;
  for (const [field, value] of Object.entries(REDSOCKS_05)) {
    if (!explicit.has(keyName(field))) (t as unknown as Record<string, unknown>)[field] = value;
  }
}

/** pool_size: auto (self-sizing), 0 (no pool) or a fixed number of connections. */
function parsePoolSize(v: string): PoolSize {
  return v === 'auto' ? 'auto' : parseUint16(v);
}

/** on|off|auto, plus redsocks' other boolean spellings. */
function parseMode(key: string, v: string): MptcpMode {
  if (v === 'auto') return 'auto';
  try {
    return parseBool(v) ? 'on' : 'off';
  } catch {
    throw new ConfigValueError(`${key} <${v}> is not parsed, use auto, on or off`);
  }
}

/** A private SOCKS5 method number (RFC 1928 reserves X'80'-X'FE' for them). */
function parseMethod(key: string, v: string): number {
  const r = strtoul(v);
  if (r.end !== v.length || v.length === 0 || r.value < 0x80n || r.value > 0xfen) {
    throw new ConfigValueError(`${key} <${v}> must be a private SOCKS5 method number, 0x80 to 0xfe`);
  }
  return Number(r.value);
}

function parsePortList(v: string): number[] {
  const ports: number[] = [];
  for (const item of v.split(/[\s,]+/)) {
    if (item === '') continue;
    const port = parseUint16(item);
    if (port === 0 || !/^[0-9]/.test(item)) throw new ConfigValueError(`port <${item}> in fastopen_data_ports is not a port number`);
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}

export function positive(key: string, n: number): number {
  if (n === 0) throw new ConfigValueError(`\`${key}\` must be positive`);
  return n;
}

/** How a section reaches its SOCKS server: in `redsocks {}`, `redudp {}` and `dns {}`. */
export const dialKeys: ReadonlyArray<[string, KeyParser<DialKeys>]> = [
  ['mptcp', (t, v) => void (t.mptcp = parseMode('mptcp', v))],
  ['paths', (t, v) => parsePaths(t, v)],
  ['path_probe_interval', (t, v) => void (t.pathProbeInterval = positive('path_probe_interval', parseUint32(v)))],
  ['path_backup_probe_interval', (t, v) => void (t.pathBackupProbeInterval = positive('path_backup_probe_interval', parseUint32(v)))],
  ['path_probe_timeout', (t, v) => void (t.pathProbeTimeout = positive('path_probe_timeout', parseUint32(v)))],
];

/** A section's TLS keys while it is read: created by the first tls* key, turned into `tls` by finishTls. */
type TlsDraft = TlsKeys & { tlsDraft?: TlsClientConfig & { on?: boolean } };

function tlsOf(t: TlsKeys): TlsClientConfig & { on?: boolean } {
  return ((t as TlsDraft).tlsDraft ??= {});
}

function pem(key: string, v: string, what: 'CERTIFICATE' | 'PRIVATE KEY'): string {
  const r = readPem(v, what);
  if ('error' in r) throw new ConfigValueError(`${key}: ${r.error}`);
  return r.pem;
}

/**
 * TLS to the SOCKS server (docs/tls.md): in `redsocks {}`, `dns {}` and `redudp {}`, one parser
 * for all three. finishTls checks them at the section's `}`.
 */
export const tlsKeys: ReadonlyArray<[string, KeyParser<TlsKeys>]> = [
  ['tls', (t, v) => void (tlsOf(t).on = parseBool(v))],
  ['tls_ca', (t, v) => void (tlsOf(t).ca = pem('tls_ca', v, 'CERTIFICATE'))],
  ['tls_pin', (t, v) => {
    const pin = parsePin(v);
    if (pin === undefined) throw new ConfigValueError(`tls_pin <${v}> is not sha256:HEX (64 hex digits, colons allowed)`, 'openssl x509 -noout -fingerprint -sha256 -in server.pem prints it');
    tlsOf(t).pin = pin;
  }],
  ['tls_cert', (t, v) => void (tlsOf(t).cert = pem('tls_cert', v, 'CERTIFICATE'))],
  ['tls_key', (t, v) => void (tlsOf(t).key = pem('tls_key', v, 'PRIVATE KEY'))],
  ['tls_servername', (t, v) => void (tlsOf(t).servername = v)],
];

/** The cross-key checks of tlsKeys, run at the section's `}`: sets `t.tls` with `tls = on`. */
export function finishTls(t: TlsKeys): void {
  const x = t as TlsDraft;
  const draft = x.tlsDraft;
  delete x.tlsDraft;
  if (!draft) return;
  const { on, ...tls } = draft;
  if (on !== true) {
    // every tls_* key without `tls = on` would be ignored: refused instead
    if (Object.keys(tls).length > 0) throw new ConfigValueError('tls_* keys need `tls = on`');
    return;
  }
  if (tls.ca === undefined && tls.pin === undefined) {
    throw new ConfigValueError('`tls = on` needs `tls_ca` or `tls_pin` to authenticate the server', 'a TLS connection to an unauthenticated server protects nothing');
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new ConfigValueError('`tls_cert` and `tls_key` go together');
  // what the dialer builds (dial/tls-layer.ts): a key that does not match its certificate, or a
  // CA file OpenSSL cannot use, is refused here rather than when the first connection is made
  try {
    createSecureContext({ minVersion: 'TLSv1.3', ca: tls.ca, cert: tls.cert, key: tls.key });
  } catch (e) {
    throw new ConfigValueError(`tls_ca, tls_cert and tls_key do not make a TLS context: ${(e as Error).message}`);
  }
  t.tls = tls;
}

export const extensionKeys: ReadonlyArray<[string, KeyParser<RedsocksSection>]> = [
  ['extensions', (t, v) => void (t.extensions = parseBool(v))],
  ...dialKeys,
  ['optimistic', (t, v) => void (t.optimistic = parseMode('optimistic', v))],
  ['optimistic_max_early', (t, v) => void (t.optimisticMaxEarly = parseUint32(v))],
  ['optimistic_gather_ms', (t, v) => void (t.optimisticGatherMs = parseUint16(v))],
  ['optimistic_method', (t, v) => void (t.optimisticMethod = parseMethod('optimistic_method', v))],
  ['optimistic_auth_method', (t, v) => void (t.optimisticAuthMethod = parseMethod('optimistic_auth_method', v))],
  ['optimistic_cache_ttl', (t, v) => void (t.optimisticCacheTtl = parseUint32(v))],
  ['fastopen', (t, v) => void (t.fastopen = parseBool(v))],
  ['fastopen_data_ports', (t, v) => void (t.fastopenDataPorts = parsePortList(v))],
  ['pool_size', (t, v) => void (t.poolSize = parsePoolSize(v))],
  ['pool_idle_timeout', (t, v) => void (t.poolIdleTimeout = positive('pool_idle_timeout', parseUint32(v)))],
  ...tlsKeys,
];

/** Cross-key checks of the extensions, run at the section's `}`. */
export function checkExtensions(t: RedsocksSection): void {
  finishTls(t);
  if (t.tls && t.type !== 'socks5' && t.type !== 'socks4') throw new ConfigValueError('`tls = on` needs `type = socks5` or `socks4` (socks-server speaks TLS)');
  if (t.optimistic === 'on' && t.type !== 'socks5') {
    throw new ConfigValueError('`optimistic = on` needs `type = socks5`');
  }
  if (t.optimisticMethod === t.optimisticAuthMethod) {
    throw new ConfigValueError('`optimistic_method` and `optimistic_auth_method` must differ');
  }
}
