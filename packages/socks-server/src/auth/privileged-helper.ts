/**
 * The privileged helper (Dante keeps its privileged operations in a separate process too):
 * forked while the server still runs as root, it keeps root (or becomes user.privileged when
 * that is another user) and does one thing only - answer
 * "is this user:password valid" for the system accounts (getpwnam/getspnam + crypt on the
 * libuv thread pool) over the socketpair fork() made. At most HELPER_CHECKS_PER_SECOND checks
 * per second and 2 at a time, whatever the (unprivileged, possibly compromised) serving
 * process asks. It exits when the serving process goes away.
 */
import { verifySystemPasswordAsync } from 'mptcp-native';
import { dropPrivileges, planFor } from '../privileges';
import { systemDummyHash } from './authenticator';
import { HELPER_CHECKS_PER_SECOND, type HelperReply, type HelperRequest } from './helper-protocol';
import { VerifyQueue } from './verify-queue';

function isRequest(m: unknown): m is HelperRequest {
  const r = m as HelperRequest;
  return typeof r === 'object' && r !== null && typeof r.id === 'number' && typeof r.user === 'string' && typeof r.password === 'string';
}

export function runHelper(): void {
  const dummy = systemDummyHash();
  // Dante's user.privileged: when it is not root, the helper runs as that user (no capabilities).
  const plan = planFor(process.env.SOCKS_SERVER_HELPER_USER, []);
  if (plan !== undefined) dropPrivileges(plan);
  const queue = new VerifyQueue(2, 256);
  let windowStart = Date.now();
  let inWindow = 0;
  const answer = (r: HelperReply): void => {
    if (process.connected) process.send?.(r);
  };
  process.on('message', (m: unknown) => {
    if (!isRequest(m)) return;
    const now = Date.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      inWindow = 0;
    }
    if (++inWindow > HELPER_CHECKS_PER_SECOND) {
      answer({ id: m.id, ok: false, why: 'privileged helper rate limit' });
      return;
    }
    queue.run(() => verifySystemPasswordAsync(m.user, m.password, dummy)).then(
      (r) => answer(r === 'busy' ? { id: m.id, ok: false, why: 'privileged helper busy' } : { id: m.id, ok: r }),
      (err: Error) => answer({ id: m.id, ok: false, why: err.message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  // Signals go to the serving process; the helper ends with its channel.
  for (const sig of ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGUSR1'] as NodeJS.Signals[]) process.on(sig, () => undefined);
}

if (require.main === module) runHelper();
