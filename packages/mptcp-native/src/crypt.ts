/** crypt(3) for password files, and system account checks (passwd/shadow), as Dante's `username` method. */
import { timingSafeEqual } from 'node:crypto';
import { requireNative } from './native';

/** crypt(3): e.g. setting '$6$salt' (SHA-512), '$2b$10$<22 chars>' (bcrypt), '$y$...' (yescrypt). */
export function cryptHash(password: string, setting: string): string {
  return requireNative('cryptHash').crypt(password, setting);
}

/** True when `password` matches the account's passwd/shadow hash. Locked or missing accounts are false. */
export function verifySystemPassword(user: string, password: string): boolean {
  const b = requireNative('verifySystemPassword');
  const hash = b.systemPasswordHash(user);
  if (!hash || hash === 'x' || hash === '*' || hash.startsWith('!')) return false;
  let computed: string;
  try {
    computed = b.crypt(password, hash);
  } catch {
    return false;
  }
  const x = Buffer.from(computed);
  const y = Buffer.from(hash);
  return x.length === y.length && timingSafeEqual(x, y);
}
