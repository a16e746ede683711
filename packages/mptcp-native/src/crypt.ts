/**
 * crypt(3) for password files, and system account checks (passwd/shadow), as Dante's `username`
 * method. The *Async checks run on the libuv thread pool, never on the event loop.
 */
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

/** crypt_gensalt(3): a fresh setting for `prefix` ('$y$', '$6$', '$2b$'; '' = the default scheme). */
export function cryptGensalt(prefix = '', count = 0): string {
  return requireNative('cryptGensalt').cryptGensalt(prefix, count);
}

function verifyCall(feature: string, call: (b: ReturnType<typeof requireNative>, cb: (err: NodeJS.ErrnoException | null, ok?: boolean) => void) => void): Promise<boolean> {
  const b = requireNative(feature);
  return new Promise((resolve, reject) => {
    call(b, (err, ok) => (err ? reject(err) : resolve(ok === true)));
  });
}

/**
 * crypt(password, hash) === hash on the thread pool. `hash` undefined = unknown user: the
 * password is checked against `dummy` (a hash of the same scheme), so it costs the same, and
 * the answer is false. Rejects (EINVAL) for a NUL in any string.
 */
export function verifyPassword(password: string, hash: string | undefined, dummy: string): Promise<boolean> {
  return verifyCall('verifyPassword', (b, cb) => b.cryptVerify(password, hash ?? '', dummy, cb));
}

/** getpwnam/getspnam + crypt on the thread pool; unknown or locked accounts are checked against `dummy`. */
export function verifySystemPasswordAsync(user: string, password: string, dummy: string): Promise<boolean> {
  return verifyCall('verifySystemPassword', (b, cb) => b.systemVerify(user, password, dummy, cb));
}
