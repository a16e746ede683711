/**
 * The capability half of a permanent privilege drop (Node has setgroups/setgid/setuid but not
 * these). Policy - which user, which capabilities - stays with the caller.
 */
import { readFileSync } from 'node:fs';
import { requireNative } from './native';

/** Capability numbers (linux/capability.h) callers may keep. */
export const CAP = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  DAC_READ_SEARCH: 2,
  SETGID: 6,
  SETUID: 7,
  NET_BIND_SERVICE: 10,
  NET_ADMIN: 12,
  NET_RAW: 13,
} as const;

/** prctl(PR_SET_KEEPCAPS) on the calling thread (the event loop's). */
export function setKeepCaps(on: boolean): void {
  requireNative('setKeepCaps').setKeepCaps(on);
}

/** permitted = effective = `caps`; inheritable and ambient empty. */
export function setCapabilities(caps: readonly number[]): void {
  requireNative('setCapabilities').setCapabilities([...caps]);
}

export interface ProcessCredentials {
  uid: [number, number, number, number]; // real, effective, saved, fs
  gid: [number, number, number, number];
  groups: number[];
  capPrm: bigint;
  capEff: bigint;
  capInh: bigint;
  capAmb: bigint;
}

/** /proc/PID/status: the ids and capability sets of a process (its main thread). */
export function processCredentials(pid: number | 'self' = 'self'): ProcessCredentials {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text)?.[1] ?? '';
  const ids = (name: string): [number, number, number, number] => {
    const v = field(name).split(/\s+/).map(Number);
    return [v[0], v[1], v[2], v[3]];
  };
  const caps = (name: string): bigint => BigInt(`0x${field(name) || '0'}`);
  return {
    uid: ids('Uid'),
    gid: ids('Gid'),
    groups: field('Groups').split(/\s+/).filter((x) => x !== '').map(Number),
    capPrm: caps('CapPrm'),
    capEff: caps('CapEff'),
    capInh: caps('CapInh'),
    capAmb: caps('CapAmb'),
  };
}
