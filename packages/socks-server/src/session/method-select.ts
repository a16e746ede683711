import { Method } from '@mptcp-proxy/common';
import type { SocksMethod } from '../config';

export interface MethodPolicy {
  /** The global `socksmethod:` list, in the administrator's order. */
  socksMethods: readonly SocksMethod[];
  /** OC method numbers (extension.optimistic.method / .authmethod). */
  ocMethod: number;
  ocAuthMethod: number;
  /** OC without auth may be selected (extension.optimistic or a rule allowlists it). */
  ocNoAuthAllowed: boolean;
  /** OC with RFC 1929 may be selected (on by default whenever `username` is enabled). */
  ocAuthAllowed: boolean;
}

export interface MethodChoice {
  /** The byte sent in the method selection (0xff = none acceptable). */
  wire: number;
  /** The Dante method it stands for. */
  method: SocksMethod | undefined;
  optimistic: boolean;
  needsAuth: boolean;
}

const NONE: MethodChoice = { wire: Method.NoAcceptable, method: undefined, optimistic: false, needsAuth: false };

/**
 * The first method in the server's socksmethod order that the client offered;
 * an OC variant wins over its plain twin. `none` is never picked when it is not
 * configured, even if the client offers it (curl offers 00 next to 02).
 */
export function selectMethod(offered: readonly number[], p: MethodPolicy): MethodChoice {
  const has = (m: number): boolean => offered.includes(m);
  for (const m of p.socksMethods) {
    if (m === 'none') {
      if (p.ocNoAuthAllowed && has(p.ocMethod)) return { wire: p.ocMethod, method: 'none', optimistic: true, needsAuth: false };
      if (has(Method.NoAuth)) return { wire: Method.NoAuth, method: 'none', optimistic: false, needsAuth: false };
    } else if (m === 'username') {
      if (p.ocAuthAllowed && has(p.ocAuthMethod)) return { wire: p.ocAuthMethod, method: 'username', optimistic: true, needsAuth: true };
      if (has(Method.UserPass)) return { wire: Method.UserPass, method: 'username', optimistic: false, needsAuth: true };
    }
  }
  return NONE;
}
