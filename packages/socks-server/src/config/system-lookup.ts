import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

/**
 * The few things Dante checks against the running system while parsing: users
 * (getpwnam), interface names, hostnames in `internal:`/`external:`, and /etc/services.
 * getent goes through nsswitch exactly as Dante's libc calls do.
 */

function getent(db: string, key: string): string | undefined {
  try {
    return execFileSync('getent', [db, key], { encoding: 'utf8', timeout: 10000, stdio: ['ignore', 'pipe', 'ignore'] });
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

// Local files answer the common cases without spawning; getent covers NSS (LDAP, sssd, DNS).
export function userExists(name: string): boolean {
  return fileHas('/etc/passwd', name) || getent('passwd', name) !== undefined;
}

export function groupExists(name: string): boolean {
  return fileHas('/etc/group', name) || getent('group', name) !== undefined;
}

export function hostnameResolves(name: string): boolean {
  return fileHas('/etc/hosts', name, true) || getent('ahosts', name) !== undefined;
}

export function interfaceExists(name: string): boolean {
  if (Object.prototype.hasOwnProperty.call(networkInterfaces(), name)) return true;
  try {
    readFileSync(`/sys/class/net/${name}/ifindex`);
    return !name.includes('/') && name !== '.' && name !== '..';
  } catch {
    return false;
  }
}

/** Addresses configured on an interface right now (empty if none/unknown). */
// getifaddrs() costs about 50 us; rules naming an interface are checked on every connection.
const IFADDRS_TTL_MS = 1000;
let ifaddrs: { at: number; byName: Map<string, string[]> } | undefined;

/** The interface's addresses, re-read from the kernel at most once a second. */
export function interfaceAddresses(name: string, now = Date.now()): string[] {
  if (!ifaddrs || now - ifaddrs.at >= IFADDRS_TTL_MS || now < ifaddrs.at) {
    const byName = new Map<string, string[]>();
    for (const [n, list] of Object.entries(networkInterfaces())) byName.set(n, (list ?? []).map((a) => a.address));
    ifaddrs = { at: now, byName };
  }
  return ifaddrs.byName.get(name) ?? [];
}

let services: Map<string, number> | undefined;

/** getservbyname(name, "tcp"/"udp") from /etc/services. */
export function servicePort(name: string): number | undefined {
  if (!services) {
    services = new Map();
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
  }
  return services.get(name);
}
