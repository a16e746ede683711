/**
 * `paths = auto`, the policy half (pure): from one reading of the kernel (links, addresses,
 * routes, rules, MPTCP endpoints) derive the WAN paths and why each one is usable or not,
 * and what can be repaired. The reading itself is kernel-paths.ts. Design and the kernel
 * facts behind it: docs/fast-by-default.md, §2.
 */
import * as net from 'node:net';
import { netlink } from 'mptcp-native';
import type { WanPath } from '../config/types';

export interface KernelSnapshot {
  links: netlink.LinkInfo[];
  addrs: netlink.AddrInfo[];
  routes: netlink.RouteInfo[];
  rules: netlink.RuleInfo[];
  endpoints: netlink.MptcpEndpoint[];
}

/** One derived path: a WanPath plus what auto saw. */
export interface AutoPath extends WanPath {
  usable: boolean;
  /** Human-readable: what makes it usable, or what is missing. */
  why: string;
  /** The endpoint that makes the kernel open subflows from it (none: the default route's address). */
  endpoint?: netlink.MptcpEndpoint;
  ifindex?: number;
}

/** A change auto can make so that a path works again. */
export type Repair =
  | { kind: 'renumber'; endpoint: netlink.MptcpEndpoint; address: string; device: string; rules: netlink.RuleInfo[] }
  | { kind: 'route'; table: number; gateway?: string; oif: number; device: string; source: string };

export interface Derived {
  paths: AutoPath[];
  repairs: Repair[];
  /** Why auto found no paths at all, when it found none. */
  none?: string;
}

/** A default route remembered per table, to put back after a link flap (the kernel does not). */
export type RouteMemory = Map<number, { gateway?: string; oif: number; device: string }>;

const familyOf = (address: string): number => (net.isIPv6(address) ? netlink.AF_INET6 : netlink.AF_INET);

function inPrefix(address: string, prefix: string, len: number): boolean {
  if (!net.isIPv4(address) || !net.isIPv4(prefix)) return false;
  const n = (a: string): number => a.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
  const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
  return (n(address) & mask) === (n(prefix) & mask);
}

function isDefault(r: netlink.RouteInfo): boolean {
  return r.dstLen === 0 && r.type === netlink.RTN_UNICAST;
}

/**
 * The paths to `proxy` in snapshot s. `withdrawn` holds endpoints this process removed on
 * purpose (a dead path, §5): their paths stay, marked as such. Auto yields paths only when
 * there are at least two and the proxy is reached through a default route: a machine with
 * one uplink, or a proxy on a local network, gets no path health (as without `paths`).
 */
export function derivePaths(
  s: KernelSnapshot,
  proxy: string,
  withdrawn: ReadonlyMap<string, netlink.MptcpEndpoint> = new Map(),
  remembered: RouteMemory = new Map(),
): Derived {
  const fam = familyOf(proxy);
  const linkBy = new Map(s.links.map((l) => [l.index, l]));
  const addrsOf = (index: number): netlink.AddrInfo[] => s.addrs.filter((a) => a.index === index && a.family === fam);
  const owner = (address: string): netlink.AddrInfo | undefined => s.addrs.find((a) => a.address === address);
  const defaults = (table: number): netlink.RouteInfo[] =>
    s.routes.filter((r) => r.family === fam && r.table === table && isDefault(r)).sort((a, b) => a.priority - b.priority);
  const repairs: Repair[] = [];

  if (owner(proxy) || (fam === netlink.AF_INET ? proxy.startsWith('127.') : proxy === '::1')) {
    return { paths: [], repairs, none: `the proxy ${proxy} is on this host` };
  }
  const covering = s.routes.find(
    (r) => r.family === fam && r.table === netlink.RT_TABLE_MAIN && r.dstLen > 0 && r.dst !== undefined && inPrefix(proxy, r.dst, r.dstLen),
  );
  if (covering) {
    const dev = covering.oif !== undefined ? linkBy.get(covering.oif)?.name : undefined;
    return { paths: [], repairs, none: `the proxy ${proxy} is reached through ${covering.dst}/${covering.dstLen}${dev ? ` dev ${dev}` : ''}, not a default route` };
  }

  const mainDefault = defaults(netlink.RT_TABLE_MAIN)[0];
  const paths: AutoPath[] = [];
  const names = new Set<string>();
  const nameFor = (device: string | undefined, id: number): string => {
    let n = (device ?? `ep${id}`).replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 32);
    if (names.has(n)) n = `${n.slice(0, 28)}-${id}`;
    names.add(n);
    return n;
  };

  /** How a packet from `source` out of link `index` leaves: a rule's table, else the main default. */
  const routeFor = (source: string, index: number | undefined, device: string): { ok: boolean; why: string } => {
    const rules = s.rules
      .filter((r) => r.family === fam && r.action === netlink.FR_ACT_TO_TBL && r.src !== undefined && r.srcLen > 0 && inPrefix(source, r.src, r.srcLen))
      .sort((a, b) => a.priority - b.priority);
    for (const rule of rules) {
      const d = defaults(rule.table)[0];
      if (d) return { ok: true, why: `rule from ${rule.src}/${rule.srcLen} -> table ${rule.table} default${d.gateway ? ` via ${d.gateway}` : ''}` };
      const mem = remembered.get(rule.table);
      if (mem && index !== undefined && mem.oif === index) {
        repairs.push({ kind: 'route', table: rule.table, gateway: mem.gateway, oif: mem.oif, device: mem.device, source });
      }
      return { ok: false, why: `rule from ${rule.src}/${rule.srcLen} -> table ${rule.table}, which has no default route` };
    }
    if (mainDefault && index !== undefined && mainDefault.oif === index) {
      return { ok: true, why: `main default route${mainDefault.gateway ? ` via ${mainDefault.gateway}` : ''} dev ${device}` };
    }
    return { ok: false, why: `no rule \`from ${source}\` to a table with a default route, and the main default route is not via ${device}` };
  };

  const seen = new Set<string>();
  const endpoints = [...s.endpoints.filter((e) => !withdrawn.has(e.address)), ...withdrawn.values()];
  for (const ep of endpoints.sort((a, b) => a.id - b.id)) {
    if (familyOf(ep.address) !== fam || !(ep.flags & netlink.MPTCP_PM_ADDR_FLAG.SUBFLOW) || seen.has(ep.address)) continue;
    seen.add(ep.address);
    const held = owner(ep.address);
    const index = ep.ifindex || held?.index;
    const link = index !== undefined ? linkBy.get(index) : undefined;
    const device = link?.name;
    const path: AutoPath = {
      name: nameFor(device, ep.id),
      source: ep.address,
      backup: (ep.flags & netlink.MPTCP_PM_ADDR_FLAG.BACKUP) !== 0,
      usable: false,
      why: '',
      endpoint: ep,
    };
    if (device) path.device = device;
    if (index !== undefined) path.ifindex = index;
    const tag = `endpoint ${ep.id}${withdrawn.has(ep.address) ? ' (withdrawn while the path is down)' : ''}`;
    if (!link) path.why = `${tag}: its interface ${index ?? '?'} is gone`;
    else if (!link.up) path.why = `${tag}: link ${link.name} is down`;
    else if (!held) {
      const now = addrsOf(link.index).filter((a) => !s.endpoints.some((e) => e.address === a.address));
      path.why = `${tag}: ${ep.address} is no longer on ${link.name}${now.length ? ` (it has ${now.map((a) => a.address).join(', ')})` : ''}`;
      if (now.length === 1 && !withdrawn.has(ep.address)) {
        // The policy rules that named the old address alone follow it too.
        const rules = s.rules.filter((r) => r.src === ep.address && r.srcLen === (fam === netlink.AF_INET ? 32 : 128) && r.action === netlink.FR_ACT_TO_TBL);
        repairs.push({ kind: 'renumber', endpoint: ep, address: now[0]!.address, device: link.name, rules });
      }
    } else {
      const r = routeFor(ep.address, link.index, link.name);
      path.usable = r.ok;
      path.why = `${tag} on ${link.name}: ${r.why}`;
    }
    paths.push(path);
  }

  // The main default route's interface carries the initial subflows; it needs no endpoint.
  // It comes first: the kernel adds subflows from endpoints only, so a connection started on
  // an endpoint's path would never get one from this path.
  if (mainDefault?.oif !== undefined) {
    const link = linkBy.get(mainDefault.oif);
    const source = mainDefault.prefsrc ?? addrsOf(mainDefault.oif)[0]?.address;
    if (link && source && !seen.has(source) && !paths.some((p) => p.ifindex === link.index)) {
      paths.unshift({
        name: nameFor(link.name, 0),
        source,
        device: link.name,
        ifindex: link.index,
        backup: false,
        usable: link.up,
        why: link.up ? `main default route${mainDefault.gateway ? ` via ${mainDefault.gateway}` : ''} dev ${link.name} (no endpoint needed)` : `link ${link.name} is down`,
      });
    }
  }

  if (paths.length < 2) {
    const none = paths.length === 0 ? 'no MPTCP subflow endpoint and no default route' : `one path only (${paths[0]!.name} ${paths[0]!.source}): nothing to choose between`;
    return { paths: [], repairs, none };
  }
  if (paths.every((p) => p.backup)) paths.forEach((p) => (p.backup = false));
  return { paths, repairs };
}

/** The default routes of policy tables now, to remember for a later repair. */
export function rememberRoutes(s: KernelSnapshot, into: RouteMemory): void {
  const linkBy = new Map(s.links.map((l) => [l.index, l]));
  for (const r of s.routes) {
    if (!isDefault(r) || r.table === netlink.RT_TABLE_MAIN || r.table === 255 /* local */ || r.oif === undefined) continue;
    const link = linkBy.get(r.oif);
    if (link) into.set(r.table, { gateway: r.gateway, oif: r.oif, device: link.name });
  }
}
