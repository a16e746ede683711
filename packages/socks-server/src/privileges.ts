/**
 * Dante's user.unprivileged, for good: once the listeners are up the serving process switches
 * its real, effective and saved ids to that user (initgroups, setgid, setuid) and keeps only
 * the capabilities it still uses (prctl(PR_SET_KEEPCAPS) + capset through mptcp-native). It
 * can never become root again: SIGHUP re-reads files as that user, and system passwords are
 * checked by the privileged helper (auth/privileged-helper.ts), forked before the drop.
 */
import { execFileSync } from 'node:child_process';
import { ProxyError } from '@mptcp-proxy/common';
import { CAP, processCredentials, setCapabilities, setKeepCaps } from 'mptcp-native';
import type { DantedConfig } from './config';

export interface DropPlan {
  user: string;
  uid: number;
  gid: number;
  /** The user's groups (initgroups(3), from id -G). */
  groups: number[];
  /** Capability numbers kept after the switch. */
  keepCaps: number[];
}

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

/** The switch itself; checks the result in /proc/self/status and throws if anything stayed. */
export function dropPrivileges(plan: DropPlan): void {
  setKeepCaps(plan.keepCaps.length > 0);
  process.setgroups!(plan.groups);
  process.setgid!(plan.gid);
  process.setuid!(plan.uid);
  setCapabilities(plan.keepCaps);
  setKeepCaps(false);
  const c = processCredentials();
  const want = plan.keepCaps.reduce((m, cap) => m | (1n << BigInt(cap)), 0n);
  if (c.uid.some((u) => u !== plan.uid) || c.gid.some((g) => g !== plan.gid) || c.groups.includes(0)
    || c.capPrm !== want || c.capEff !== want) {
    throw new ProxyError('EPRIVDROP', `privilege drop to ${plan.user} incomplete: uid ${c.uid.join('/')} gid ${c.gid.join('/')} `
      + `CapPrm ${c.capPrm.toString(16)} CapEff ${c.capEff.toString(16)}`);
  }
}
