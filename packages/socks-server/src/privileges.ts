/**
 * Dante's user.privileged / user.unprivileged: after binding, run with the
 * unprivileged effective ids and switch back to root only for what needs it
 * (reading /etc/shadow for `username`). Real ids stay root so we can.
 */
import { execFileSync } from 'node:child_process';
import type { DantedConfig } from './config';
import type { PrivilegedRunner } from './auth/authenticator';

export interface PrivilegeDropper {
  drop(): void;
  runPrivileged: PrivilegedRunner;
  /** Back to root until the returned function is called (SIGHUP: config, log and password files). */
  elevate(): () => void;
}

/** Primary group of `user` (getpwnam(3)'s pw_gid), via id(1). */
function primaryGid(user: string): number {
  return Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
}

export function privilegeDropper(config: DantedConfig): PrivilegeDropper {
  const target = config.user.unprivileged;
  const privileged = config.user.privileged ?? 'root';
  let dropped = false;
  let gid = 0;
  const canSwitch = typeof process.geteuid === 'function' && process.geteuid() === 0 && target !== undefined && target !== 'root';
  return {
    drop() {
      if (!canSwitch || dropped) return;
      gid = primaryGid(target!);
      process.setegid!(gid);
      process.seteuid!(target!);
      dropped = true;
    },
    elevate() {
      if (!dropped) return () => undefined;
      process.seteuid!(privileged);
      process.setegid!(0);
      return () => {
        process.setegid!(gid);
        process.seteuid!(target!);
      };
    },
    runPrivileged<T>(fn: () => T): T {
      if (!dropped) return fn();
      process.seteuid!(privileged);
      process.setegid!(0);
      try {
        return fn();
      } finally {
        process.setegid!(gid);
        process.seteuid!(target!);
      }
    },
  };
}
