/**
 * The privilege drop, kept apart from the rest of the lifecycle: after the listeners are bound,
 * become `group` then `user` for good (setgid before setuid, while still allowed to). This is
 * redsocks' `user`/`group`. `dropForGood` is the full form socks-server's user.unprivileged
 * uses (its policy, which user and which capabilities, lives in socks-server/src/privileges.ts):
 * supplementary groups, gid, uid, and only the capabilities asked for kept.
 */
import { processCredentials, setCapabilities, setKeepCaps } from 'mptcp-native';
import { ProxyError } from '../errors';
export interface PrivilegeTarget {
  user?: string | number;
  group?: string | number;
}

export function dropPrivileges(target: PrivilegeTarget): void {
  if (target.group !== undefined && process.setgid) process.setgid(target.group);
  if (target.user !== undefined && process.setuid) process.setuid(target.user);
}

export interface PermanentDrop {
  /** For messages. */
  user: string;
  uid: number;
  gid: number;
  /** The user's groups (initgroups(3)). */
  groups: number[];
  /** Capability numbers (mptcp-native CAP) kept after the switch; [] = none. */
  keepCaps: number[];
}

/**
 * setgroups, setgid, setuid (glibc applies them to every thread) with PR_SET_KEEPCAPS around
 * the setuid and a capset() after it (on the event loop's thread, the one that binds), so that
 * only `keepCaps` stay; then checks /proc/self/status and throws EPRIVDROP if anything stayed.
 */
export function dropForGood(d: PermanentDrop): void {
  setKeepCaps(d.keepCaps.length > 0);
  process.setgroups!(d.groups);
  process.setgid!(d.gid);
  process.setuid!(d.uid);
  setCapabilities(d.keepCaps);
  setKeepCaps(false);
  const c = processCredentials();
  const want = d.keepCaps.reduce((m, cap) => m | (1n << BigInt(cap)), 0n);
  if (c.uid.some((u) => u !== d.uid) || c.gid.some((g) => g !== d.gid) || c.groups.includes(0)
    || c.capPrm !== want || c.capEff !== want) {
    throw new ProxyError('EPRIVDROP', `privilege drop to ${d.user} incomplete: uid ${c.uid.join('/')} gid ${c.gid.join('/')} `
      + `CapPrm ${c.capPrm.toString(16)} CapEff ${c.capEff.toString(16)}`);
  }
}
