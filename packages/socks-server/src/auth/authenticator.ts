/**
 * RFC 1929 credentials for socksmethod `username`: the system accounts (passwd/shadow) or
 * our password file. Every check runs off the event loop (mptcp-native on the libuv thread
 * pool, or the privileged helper process), through the shared VerifyQueue; an unknown user
 * is checked against a dummy hash of the same scheme, so it costs what a wrong password costs.
 */
import { readFileSync } from 'node:fs';
import { ProxyError } from '@mptcp-proxy/common';
import * as native from 'mptcp-native';
import type { DantedConfig } from '../config';
import type { AuthHelperClient } from './helper-client';
import { loadPasswordFile } from './password-file';
import type { VerifyQueue } from './verify-queue';

export type AuthVerdict = { ok: true } | { ok: false; why: string };

export interface Authenticator {
  readonly kind: 'system' | 'passwordfile';
  /** Never rejects. */
  verify(user: string, password: string): Promise<AuthVerdict>;
}

const OK: AuthVerdict = { ok: true };
const WRONG: AuthVerdict = { ok: false, why: 'wrong password or unknown user' };
const BUSY: AuthVerdict = { ok: false, why: 'too many password checks in progress' };

/** Runs one check through the queue; errors become a failed login with their text. */
export function queuedCheck(queue: VerifyQueue, check: () => Promise<boolean>): Promise<AuthVerdict> {
  return queue.run(check).then(
    (r) => (r === 'busy' ? BUSY : r ? OK : WRONG),
    (err: Error) => ({ ok: false, why: `password check failed: ${err.message}` }),
  );
}

/** The first crypt(3) hash in passwd/shadow-style `name:hash` lines (the scheme unknown users cost). */
export function firstHash(lines: Iterable<string>): string | undefined {
  for (const hash of lines) if (/^\$[0-9a-z]+\$/.test(hash)) return hash;
  return undefined;
}

/**
 * The dummy for unknown system users: the first account's shadow hash (same scheme and cost
 * as a real one; readable by root), else a fresh setting of libxcrypt's default scheme.
 */
export function systemDummyHash(shadowPath = '/etc/shadow'): string {
  try {
    const hashes = readFileSync(shadowPath, 'utf8').split('\n').map((l) => l.split(':')[1] ?? '');
    const h = firstHash(hashes);
    if (h !== undefined) return h;
  } catch {
    // not root, or no shadow file
  }
  return native.cryptGensalt('', 0);
}

export function passwordFileAuthenticator(path: string, queue: VerifyQueue): Authenticator {
  const users = loadPasswordFile(path);
  const dummy = firstHash(users.values()) ?? native.cryptGensalt('', 0);
  return {
    kind: 'passwordfile',
    verify: (user, password) => queuedCheck(queue, () => native.verifyPassword(password, users.get(user), dummy)),
  };
}

/** In this process (when no privileged helper is needed: we never dropped root, or never had it). */
export function systemAuthenticator(queue: VerifyQueue, dummy = systemDummyHash()): Authenticator {
  return {
    kind: 'system',
    verify: (user, password) => queuedCheck(queue, () => native.verifySystemPasswordAsync(user, password, dummy)),
  };
}

/** Through the privileged helper (the serving process has no access to shadow). */
export function helperAuthenticator(helper: AuthHelperClient): Authenticator {
  return { kind: 'system', verify: (user, password) => helper.verify(user, password) };
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

export interface AuthDeps {
  queue: VerifyQueue;
  /** The privileged helper, when system passwords are checked outside this (unprivileged) process. */
  helper?: AuthHelperClient;
  /** This process can no longer read system passwords (privileges dropped for good). */
  unprivileged?: boolean;
}

/** The authenticator for `username`, or undefined when no rule can use it. */
export function makeAuthenticator(config: DantedConfig, deps: AuthDeps): Authenticator | undefined {
  if (!config.socksMethod.includes('username')) return undefined;
  if (config.ext.passwordFile !== undefined) return passwordFileAuthenticator(config.ext.passwordFile, deps.queue);
  if (deps.helper) return helperAuthenticator(deps.helper);
  if (deps.unprivileged) {
    throw new ProxyError('EAUTH_HELPER', `${config.file}: socksmethod "username" checks system passwords, which needs the `
      + 'privileged helper started with the server: restart socks-server to enable it');
  }
  return systemAuthenticator(deps.queue);
}
