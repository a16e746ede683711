import { execFileSync } from 'node:child_process';
import { isIPv6 } from 'node:net';

/** The outcome of redsocks' parse-time getaddrinfo(AF_INET, SOCK_STREAM, AI_ADDRCONFIG). */
export type ResolveResult = { addresses: string[] } | { error: string };

/** Synchronous IPv4 lookup, injectable so callers (and tests) can avoid NSS. */
export type HostResolver = (host: string) => ResolveResult;

const EAI_NONAME = 'getaddrinfo error -2 (Name or service not known)';
const EAI_ADDRFAMILY = 'getaddrinfo error -9 (Address family for hostname not supported)';

/**
 * Node has no synchronous getaddrinfo, and redsocks resolves while parsing, so this asks
 * glibc through `getent ahostsv4` (same NSS configuration, same /etc/hosts).
 */
export const systemResolver: HostResolver = (host) => {
  // an IPv6 literal is refused for AF_INET; any other name with a colon is looked up (and not found)
  if (isIPv6(host)) return { error: EAI_ADDRFAMILY };
  if (host.includes(':')) return { error: EAI_NONAME };
  if (host === '' || host.includes('\0')) return { error: EAI_NONAME };
  let out: string;
  try {
    out = execFileSync('getent', ['ahostsv4', '--', host], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    });
  } catch {
    return { error: EAI_NONAME };
  }
  const addresses: string[] = [];
  for (const line of out.split('\n')) {
    const [addr, socktype] = line.trim().split(/\s+/);
    if (addr && socktype === 'STREAM' && !addresses.includes(addr)) addresses.push(addr);
  }
  return addresses.length > 0 ? { addresses } : { error: EAI_NONAME };
};
