/** Messages between the serving process and the privileged helper (over fork()'s socketpair). */
export interface HelperRequest {
  id: number;
  user: string;
  password: string;
}

export interface HelperReply {
  id: number;
  ok: boolean;
  /** Why a check failed other than by a wrong password (busy, rate-limited, lookup error). */
  why?: string;
}

/** The helper's own cap on checks per second (whatever the serving process asks). */
export const HELPER_CHECKS_PER_SECOND = 50;
