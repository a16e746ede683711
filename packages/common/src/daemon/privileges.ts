/**
 * The privilege drop, kept apart from the rest of the lifecycle: after the listeners are bound,
 * become `group` then `user` for good (setgid before setuid, while still allowed to). This is
 * redsocks' `user`/`group`; socks-server's Dante model (user.privileged/unprivileged) lives in
 * socks-server and plugs into the same place in its CLI.
 */
export interface PrivilegeTarget {
  user?: string | number;
  group?: string | number;
}

export function dropPrivileges(target: PrivilegeTarget): void {
  if (target.group !== undefined && process.setgid) process.setgid(target.group);
  if (target.user !== undefined && process.setuid) process.setuid(target.user);
}
