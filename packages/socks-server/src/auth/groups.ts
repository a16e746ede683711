/**
 * The groups a user belongs to, for `group:` in rules (Dante: the system group file, through
 * getgrouplist). Asked once per user and minute, asynchronously (`id -Gn`, which goes through
 * NSS like Dante's libc calls), and only when some rule names a group.
 */
import { execFile } from 'node:child_process';

const TTL_MS = 60_000;
const MAX_USERS = 4096;

export class GroupLookup {
  private readonly cache = new Map<string, { at: number; groups: Promise<string[]> }>();

  get(user: string, now = Date.now()): Promise<string[]> {
    const hit = this.cache.get(user);
    if (hit !== undefined && now - hit.at < TTL_MS) return hit.groups;
    const groups = new Promise<string[]>((resolve) => {
      if (user === '' || user.includes('\0') || user.startsWith('-')) {
        resolve([]);
        return;
      }
      execFile('id', ['-Gn', '--', user], { encoding: 'utf8', timeout: 10_000 }, (err, out) => {
        resolve(err ? [] : out.trim().split(/\s+/).filter((g) => g !== ''));
      });
    });
    this.cache.delete(user);
    this.cache.set(user, { at: now, groups });
    if (this.cache.size > MAX_USERS) this.cache.delete(this.cache.keys().next().value as string);
    return groups;
  }
}
