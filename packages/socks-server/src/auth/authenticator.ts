import { timingSafeEqual } from 'node:crypto';
import { ProxyError } from '@mptcp-proxy/common';
import * as native from 'mptcp-native';
import type { DantedConfig } from '../config';
import { loadPasswordFile } from './password-file';

/** Checks RFC 1929 credentials for socksmethod `username`. */
export interface Authenticator {
  readonly kind: 'system' | 'passwordfile';
  verify(user: string, password: string): boolean;
}

/** Runs `fn` with effective uid 0 when we dropped to an unprivileged euid (Dante's user.privileged). */
export type PrivilegedRunner = <T>(fn: () => T) => T;

const direct: PrivilegedRunner = (fn) => fn();

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function passwordFileAuthenticator(path: string): Authenticator {
  const users = loadPasswordFile(path);
  return {
    kind: 'passwordfile',
    verify(user, password) {
      const hash = users.get(user);
      if (hash === undefined) return false;
      let computed: string;
      try {
        computed = native.cryptHash(password, hash);
      } catch {
        return false;
      }
      return sameString(computed, hash);
    },
  };
}

export function systemAuthenticator(privileged: PrivilegedRunner = direct): Authenticator {
  return {
    kind: 'system',
    verify(user, password) {
      try {
        return privileged(() => native.verifySystemPassword(user, password));
      } catch {
        return false;
      }
    },
  };
}

const UNSUPPORTED: Record<string, string> = {
  'pam.any': 'PAM is not supported by socks-server; use "username" (system passwords) or extension.passwordfile',
  'pam.address': 'PAM is not supported by socks-server; use client rules on from: addresses instead',
  'pam.username': 'PAM is not supported by socks-server; use "username" (system passwords) or extension.passwordfile',
  rfc931: 'rfc931 (ident) authentication is not supported by socks-server',
  gssapi: 'gssapi is not supported by socks-server',
  bsdauth: 'bsdauth is not supported by socks-server',
};

/** Refuse at start the methods we cannot honour, with a clear message. */
export function checkMethodsSupported(config: DantedConfig): void {
  const all = [...config.socksMethod, ...config.clientMethod,
    ...config.socksRules.flatMap((r) => r.socksMethod ?? []),
    ...config.clientRules.flatMap((r) => r.clientMethod ?? [])];
  for (const m of all) {
    const why = UNSUPPORTED[m];
    if (why !== undefined) {
      throw new ProxyError('EAUTH_UNSUPPORTED', `${config.file}: method "${m}": ${why}`);
    }
  }
}

/** The authenticator for `username`, or undefined when no rule can use it. */
export function makeAuthenticator(config: DantedConfig, privileged?: PrivilegedRunner): Authenticator | undefined {
  if (!config.socksMethod.includes('username')) return undefined;
  if (config.ext.passwordFile !== undefined) return passwordFileAuthenticator(config.ext.passwordFile);
  return systemAuthenticator(privileged);
}
