/** What the tests read about this process' own fds. */
import { readdirSync, readlinkSync } from 'node:fs';

/**
 * This process' open fds by kind, for leak checks (mptcp-native's relay thread keeps up to 64
 * empty pipes for its next relays, so sockets and pipes are counted apart).
 */
export function fdKinds(): { sockets: number; pipes: number; all: number } {
  const links = readdirSync('/proc/self/fd').map((f) => {
    try {
      return readlinkSync(`/proc/self/fd/${f}`);
    } catch {
      return '';
    }
  });
  return {
    sockets: links.filter((l) => l.startsWith('socket:')).length,
    pipes: links.filter((l) => l.startsWith('pipe:')).length,
    all: links.length,
  };
}
