/**
 * HTTP proxy authentication as redsocks' http-auth.c does it: the first
 * `Proxy-Authenticate:` challenge is cached per instance and answered pre-emptively on
 * later connections. Basic and Digest (MD5, qop=auth or none); nc is a per-instance counter.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface DigestParams {
  realm?: string;
  nonce?: string;
  opaque?: string;
  qop?: string;
  algorithm?: string;
}

/** The cached challenge of one `redsocks {}` instance. */
export interface AuthCache {
  /** The header value after `Proxy-Authenticate:`, e.g. `Basic realm="x"`. */
  challenge?: string;
  /** Digest nonce count. */
  count: number;
}

/**
 * The challenges one HTTP upstream protocol object has cached, one per `redsocks {}` section
 * object (a reload parses new section objects, so it starts afresh, as a restart would).
 */
export class AuthCaches {
  private readonly bySection = new WeakMap<object, AuthCache>();

  for(section: object): AuthCache {
    let c = this.bySection.get(section);
    if (!c) {
      c = { count: 0 };
      this.bySection.set(section, c);
    }
    return c;
  }
}

export function basicCredentials(login: string, password: string): string {
  return Buffer.from(`${login}:${password}`, 'latin1').toString('base64');
}

/** Parses `key=value, key="quoted, value"` auth-params (RFC 2617 §1.2). */
export function parseAuthParams(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === ',')) i++;
    let k = '';
    while (i < s.length && s[i] !== '=' && s[i] !== ',' && s[i] !== ' ') k += s[i++];
    while (i < s.length && s[i] === ' ') i++;
    if (s[i] !== '=') {
      continue;
    }
    i++;
    while (i < s.length && s[i] === ' ') i++;
    let v = '';
    if (s[i] === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        v += s[i++];
      }
      i++;
    } else {
      while (i < s.length && s[i] !== ',') v += s[i++];
      v = v.trim();
    }
    if (k) out[k.toLowerCase()] = v;
  }
  return out;
}

const md5 = (s: string): string => createHash('md5').update(s, 'latin1').digest('hex');

export interface DigestInput {
  user: string;
  password: string;
  method: string;
  uri: string;
  /** Nonce count, written as 8 hex digits. */
  nc: number;
  cnonce: string;
}

/**
 * The Digest credentials (without the `Digest ` scheme word) for a challenge's params, or
 * undefined when redsocks could not answer it (no realm/nonce, or qop offers no `auth`).
 */
export function digestCredentials(params: Record<string, string>, d: DigestInput): string | undefined {
  const realm = params.realm;
  const nonce = params.nonce;
  if (realm === undefined || nonce === undefined) return undefined;
  let qop: string | undefined;
  if (params.qop !== undefined) {
    const offered = params.qop.split(',').map((q) => q.trim().toLowerCase());
    if (!offered.includes('auth')) return undefined; // auth-int is not supported, as in redsocks
    qop = 'auth';
  }
  const nc = d.nc.toString(16).padStart(8, '0');
  const ha1 = md5(`${d.user}:${realm}:${d.password}`);
  const ha2 = md5(`${d.method}:${d.uri}`);
  const response = qop
    ? md5(`${ha1}:${nonce}:${nc}:${d.cnonce}:${qop}:${ha2}`)
    : md5(`${ha1}:${nonce}:${ha2}`);
  let s = `username="${d.user}", realm="${realm}", nonce="${nonce}", uri="${d.uri}", response="${response}"`;
  if (qop) s += `, qop=${qop}, nc=${nc}, cnonce="${d.cnonce}"`;
  if (params.opaque !== undefined) s += `, opaque="${params.opaque}"`;
  return s;
}

export function newCnonce(): string {
  return randomBytes(8).toString('hex');
}

/**
 * The `Proxy-Authorization:` header line (with CRLF) answering the cached challenge, or ''
 * when there is nothing cached, no credentials, or the scheme is unsupported (e.g. Negotiate).
 */
export function proxyAuthorization(
  cache: AuthCache,
  login: string | undefined,
  password: string | undefined,
  method: string,
  uri: string,
): string {
  const ch = cache.challenge;
  if (!ch || login === undefined || password === undefined) return '';
  if (/^basic\b/i.test(ch)) return `Proxy-Authorization: Basic ${basicCredentials(login, password)}\r\n`;
  if (/^digest\s/i.test(ch)) {
    cache.count++;
    const cred = digestCredentials(parseAuthParams(ch.slice(7)), {
      user: login, password, method, uri, nc: cache.count, cnonce: newCnonce(),
    });
    return cred ? `Proxy-Authorization: Digest ${cred}\r\n` : '';
  }
  return '';
}
