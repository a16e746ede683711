import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

/**
 * The few things Dante checks against the running system while parsing: users
 * (getpwnam), interface names, hostnames in `internal:`/`external:`, and /etc/services;
 * plus the interface addresses the rule matcher compares with. Injected into the parser
 * and the runtime (tests pass their own), as redsocks-ts's config loader takes its resolver.
 */
export interface SystemLookups {
  userExists(name: string): boolean;
  hostnameResolves(name: string): boolean;
  interfaceExists(name: string): boolean;
  /** Addresses configured on an interface (empty if none/unknown). */
  interfaceAddresses(name: string): string[];
  /** getservbyname(name, "tcp"/"udp"). */
  servicePort(name: string): number | undefined;
}

function getent(db: string, key: string): string | undefined {
  if (key === '' || key.includes('\0')) return undefined;
  try {
    return execFileSync('getent', [db, '--', key], { encoding: 'utf8', timeout: 10000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

/** First field of each line of a colon/space separated file (plus aliases for hosts). */
function fileHas(path: string, name: string, hosts = false): boolean {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return false;
  }
  for (const line of text.split('\n')) {
    if (hosts) {
      const fields = line.replace(/#.*/, '').trim().split(/\s+/);
      if (fields.slice(1).includes(name)) return true;
    } else if (line.startsWith(`${name}:`)) return true;
  }
  return false;
}

/** getifaddrs() costs about 50 us; rules naming an interface are checked on every connection. */
const IFADDRS_TTL_MS = 1000;

/**
 * The running system, through the same files and NSS (getent) that Dante's libc calls read.
 * Its caches (interface addresses re-read at most once a second, /etc/services read once)
 * belong to the instance: one per config generation or parse.
 */
export class HostLookups implements SystemLookups {
  private ifaddrs: { at: number; byName: Map<string, string[]> } | undefined;
  private services: Map<string, number> | undefined;

  constructor(private readonly clock: () => number = Date.now) {}

  // Local files answer the common cases without spawning; getent covers NSS (LDAP, sssd, DNS).
  userExists(name: string): boolean {
    return fileHas('/etc/passwd', name) || getent('passwd', name) !== undefined;
  }

  hostnameResolves(name: string): boolean {
    return fileHas('/etc/hosts', name, true) || getent('ahosts', name) !== undefined;
  }

  interfaceExists(name: string): boolean {
    if (Object.prototype.hasOwnProperty.call(networkInterfaces(), name)) return true;
    if (name.includes('/') || name.includes('\0') || name === '.' || name === '..') return false;
    try {
      readFileSync(`/sys/class/net/${name}/ifindex`);
      return true;
    } catch {
      return false;
    }
  }

  interfaceAddresses(name: string): string[] {
    const now = this.clock();
    const c = this.ifaddrs;
    if (!c || now - c.at >= IFADDRS_TTL_MS || now < c.at) {
      const byName = new Map<string, string[]>();
      for (const [n, list] of Object.entries(networkInterfaces())) byName.set(n, (list ?? []).map((a) => a.address));
      this.ifaddrs = { at: now, byName };
    }
    return this.ifaddrs!.byName.get(name) ?? [];
  }

  servicePort(name: string): number | undefined {
    if (!this.services) {
      const services = new Map<string, number>();
      let text = '';
      try {
        text = readFileSync('/etc/services', 'utf8');
      } catch {
        /* no services file: only numbers work */
      }
      for (const line of text.split('\n')) {
        const fields = line.replace(/#.*/, '').trim().split(/\s+/);
        const m = /^(\d+)\/(tcp|udp)$/.exec(fields[1] ?? '');
        if (!m) continue;
        for (const n of [fields[0], ...fields.slice(2)]) if (!services.has(n)) services.set(n, Number(m[1]));
      }
      this.services = services;
    }
    return this.services.get(name);
  }
}
