import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { ProxyError, SpliceBudget, splicePolicyFromEnv } from '@mptcp-proxy/common';
import type { DantedConfig, Rule, SystemLookups } from './config';
import type { Authenticator } from './auth/authenticator';
import { LoginLimiter, type FailureLimit } from './auth/login-limiter';
import { VerifyQueue } from './auth/verify-queue';
import { GroupLookup } from './auth/groups';
import type { DanteLog } from './log/dante-log';
import type { MethodPolicy } from './session/method-select';

/** Limits of the optimistic-connect extension (docs/optimistic-connect.md §5.6). */
export interface OcLimits {
  /** Concurrent OC connects still pending, per client IP and destination. */
  maxPendingPerClient: number;
  /** Early data buffered before CONNECT completes, per client IP, in bytes. */
  maxEarlyPerClient: number;
}

export const DEFAULT_OC_LIMITS: OcLimits = { maxPendingPerClient: 64, maxEarlyPerClient: 16 * 1024 * 1024 };

/** Password checks at once (libuv's pool has 4 threads by default, shared with DNS) and waiting. */
const VERIFY_CONCURRENCY = 2;
const VERIFY_BACKLOG = 256;

/** Counters that outlive a config generation (SIGHUP keeps them). */
export class SharedState {
  /**
   * Concurrent sessions per rule, keyed `client#N` / `socks#N` (session.max), and per rule and
   * client address, keyed `client#N 192.0.2.1` (session.state.max with session.state.key: from).
   */
  readonly ruleSessions = new Map<string, number>();
  /** Fixed throttle windows (session.throttle, session.state.throttle), same keys. */
  readonly throttles = new Map<string, { start: number; count: number }>();
  /** Pending optimistic connects, keyed `CLIENT DEST.PORT`. */
  readonly ocPending = new Map<string, number>();
  readonly earlyBytes = new Map<string, number>();
  /** Client IPs that passed RFC 1929 recently (ms timestamp), for the pool negotiate timeout. */
  readonly recentAuth = new Map<string, number>();
  /** The fds this process may spend on spliced relays, and where and when they splice (MPTCP_SPLICE_ON/_AFTER). */
  readonly splice = new SpliceBudget(undefined, splicePolicyFromEnv());
  /** Failed logins per source (extension.auth.failures). */
  readonly logins = new LoginLimiter();
  readonly verifyQueue = new VerifyQueue(VERIFY_CONCURRENCY, VERIFY_BACKLOG);
  /** Users' groups for `group:` rules. */
  readonly groups = new GroupLookup();

  add(map: Map<string, number>, key: string, delta: number): number {
    const v = (map.get(key) ?? 0) + delta;
    if (v <= 0) map.delete(key);
    else map.set(key, v);
    return v;
  }
}

export function ruleKey(rule: Rule): string {
  return `${rule.type}#${rule.number}`;
}

/** Source addresses for the outbound leg, one per family (`external:`). */
export interface Externals {
  v4: string[];
  v6: string[];
}

/** Everything a session needs from one config generation. */
export interface Runtime {
  readonly config: DantedConfig;
  /** Interface addresses for rules naming an interface (cached per generation). */
  readonly sys: SystemLookups;
  readonly auth: Authenticator | undefined;
  readonly log: DanteLog;
  readonly policy: MethodPolicy;
  readonly externals: Externals;
  readonly shared: SharedState;
  readonly oc: OcLimits;
  /** -n: no TCP keepalive. */
  readonly noKeepalive: boolean;
  /** Timeouts in ms (0 = none). */
  readonly negotiateMs: number;
  readonly poolNegotiateMs: number;
  readonly connectMs: number;
  readonly ioTcpMs: number;
  readonly ioUdpMs: number;
  readonly maxEarly: number;
  /** extension.auth.failures */
  readonly authFailures: FailureLimit;
  /** Some socks-rule names a `group:`: the user's groups are looked up before the rules. */
  readonly needsGroups: boolean;
}

function addressesOf(ifname: string): string[] | undefined {
  const list = networkInterfaces()[ifname];
  return list?.map((a) => a.address);
}

/** Resolves `external:` entries (address, interface name or hostname) into source addresses. */
export async function resolveExternals(config: DantedConfig): Promise<Externals> {
  const out: Externals = { v4: [], v6: [] };
  const push = (a: string): void => {
    if (isIP(a) === 4) out.v4.push(a);
    else if (isIP(a) === 6) out.v6.push(a);
  };
  for (const e of config.external) {
    if (e.kind === 'address' || isIP(e.value) !== 0) {
      push(e.value);
      continue;
    }
    const ifaddrs = addressesOf(e.value);
    if (ifaddrs !== undefined) {
      ifaddrs.filter((a) => !a.startsWith('fe80:')).forEach(push);
      continue;
    }
    try {
      const res = await lookup(e.value, { all: true });
      res.forEach((r) => push(r.address));
    } catch {
      throw new ProxyError('EEXTERNAL', `${e.file}:${e.line}: could not resolve external address "${e.value}"`);
    }
  }
  return out;
}

/** `internal:` entries into listen addresses. */
export async function resolveInternals(config: DantedConfig): Promise<{ host: string; port: number }[]> {
  const out: { host: string; port: number }[] = [];
  for (const i of config.internal) {
    if (i.kind === 'address' || isIP(i.value) !== 0) {
      out.push({ host: i.value, port: i.port });
      continue;
    }
    const ifaddrs = addressesOf(i.value);
    if (ifaddrs !== undefined) {
      for (const a of ifaddrs) {
        if (a.startsWith('fe80:')) continue;
        if (isIP(a) === 4 && !config.internalProtocol.includes('ipv4')) continue;
        if (isIP(a) === 6 && !config.internalProtocol.includes('ipv6')) continue;
        out.push({ host: a, port: i.port });
      }
      continue;
    }
    try {
      const res = await lookup(i.value);
      out.push({ host: res.address, port: i.port });
    } catch {
      throw new ProxyError('EINTERNAL', `${i.file}:${i.line}: could not resolve hostname "${i.value}"`);
    }
  }
  return out;
}
