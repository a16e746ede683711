/**
 * Dante's user.unprivileged, for good: once the listeners are up the serving process switches
 * its real, effective and saved ids to that user (initgroups, setgid, setuid) and keeps only
 * the capabilities it still uses (common's dropForGood: prctl(PR_SET_KEEPCAPS) + capset through
 * mptcp-native). This file is the policy: which user, which capabilities. It
 * can never become root again: SIGHUP re-reads files as that user, and system passwords are
 * checked by the privileged helper (auth/privileged-helper.ts), forked before the drop.
 */
import { execFileSync } from 'node:child_process';
import { dropForGood, type PermanentDrop } from '@mptcp-proxy/common';
import { CAP } from 'mptcp-native';
import type { DantedConfig } from './config';

/** Who to become and which capabilities to keep (common's PermanentDrop). */
export type DropPlan = PermanentDrop;

function idOf(flag: '-u' | '-g' | '-G', user: string): number[] {
  return execFileSync('id', [flag, '--', user], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
}

/**
 * The capabilities the serving process still needs after the drop: CAP_NET_BIND_SERVICE when a
 * socks-rule's udp.portrange reaches below 1024 (UDP ASSOCIATE binds there per request). The
 * listeners exist before the drop; BIND and other UDP sockets use unprivileged ports.
 */
export function capabilitiesNeeded(config: DantedConfig): number[] {
  const lowUdp = config.socksRules.some((r) => r.udpPortRange !== undefined && r.udpPortRange.from < 1024);
  return lowUdp ? [CAP.NET_BIND_SERVICE] : [];
}

/** Switching to `user` keeping `keepCaps`; undefined when we are not root or `user` is root. */
export function planFor(user: string | undefined, keepCaps: number[]): DropPlan | undefined {
  if (user === undefined || user === 'root' || process.geteuid?.() !== 0) return undefined;
  const [uid] = idOf('-u', user);
  if (uid === 0) return undefined;
  return { user, uid, gid: idOf('-g', user)[0], groups: idOf('-G', user), keepCaps };
}

/** What the serving process switches to: only when running as root with a non-root user.unprivileged. */
export function dropPlan(config: DantedConfig): DropPlan | undefined {
  return planFor(config.user.unprivileged, capabilitiesNeeded(config));
}

/** The switch itself (common's dropForGood: the ids, the capabilities kept, checked in /proc). */
export function dropPrivileges(plan: DropPlan): void {
  dropForGood(plan);
}
