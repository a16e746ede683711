/** What `mptcp-gateway setup` is asked to build, parsed from its command line. */
import { ProxyError } from '@mptcp-proxy/common';

export interface WanSpec {
  name: string; // label, e.g. isp1
  iface: string;
  addr: string;
  gw: string;
  backup: boolean; // metered link: its subflows carry data only when no other subflow works
}

export interface GatewaySpec {
  role: 'gateway' | 'server';
  wans: WanSpec[];
  lan?: { iface?: string; cidr?: string };
  proxy?: { host: string; port: number };
  redsocksPort?: number;
  tproxy: boolean;
  tableBase: number; // per-WAN routing table = tableBase + index + 1
  rulePrio: number; // per-source rule priority = rulePrio + index
  tproxyMark: number;
  staleLossCnt: number;
  statePath: string;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
export const isIpv4 = (s: string): boolean => IPV4.test(s) && s.split('.').every((o) => Number(o) <= 255);
const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

function bad(msg: string): never {
  throw new ProxyError('EGATEWAY_ARGS', msg);
}

/** `NAME=IFACE,ADDR,GW[,backup]` */
export function parseWan(s: string): WanSpec {
  const m = /^([A-Za-z0-9_-]+)=(.*)$/.exec(s);
  if (!m) bad(`--wan "${s}": expected NAME=IFACE,ADDR,GW[,backup]`);
  const [iface, addr, gw, ...flags] = m[2].split(',');
  if (!iface || !IFNAME.test(iface)) bad(`--wan "${s}": bad interface name "${iface ?? ''}"`);
  if (!addr || !isIpv4(addr)) bad(`--wan "${s}": "${addr ?? ''}" is not an IPv4 address`);
  if (!gw || !isIpv4(gw)) bad(`--wan "${s}": gateway "${gw ?? ''}" is not an IPv4 address`);
  for (const f of flags) if (f !== 'backup') bad(`--wan "${s}": unknown flag "${f}" (only "backup")`);
  return { name: m[1], iface, addr, gw, backup: flags.includes('backup') };
}

export function parseHostPort(s: string, what: string): { host: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(s);
  if (!m || !isIpv4(m[1]) || Number(m[2]) < 1 || Number(m[2]) > 65535) bad(`${what} "${s}": expected IPv4:PORT`);
  return { host: m[1], port: Number(m[2]) };
}

export function parseLan(s: string): { iface?: string; cidr?: string } {
  if (/^[\d.]+\/\d{1,2}$/.test(s) && isIpv4(s.split('/')[0])) return { cidr: s };
  if (IFNAME.test(s)) return { iface: s };
  return bad(`--lan "${s}": expected an interface name or an IPv4 CIDR`);
}

export function defaultSpec(): GatewaySpec {
  return {
    role: 'gateway',
    wans: [],
    tproxy: false,
    tableBase: 100,
    rulePrio: 1000,
    tproxyMark: 0x4d50, // 'MP'
    staleLossCnt: 2,
    statePath: '/var/lib/mptcp-gateway/state.json',
  };
}

export function validate(spec: GatewaySpec): void {
  if (spec.role === 'server') return;
  if (spec.wans.length === 0) bad('setup needs at least one --wan');
  const names = new Set(spec.wans.map((w) => w.name));
  if (names.size !== spec.wans.length) bad('two --wan entries share a name');
  if (spec.lan && !spec.redsocksPort) bad('--lan needs --redsocks-port (where REDIRECT sends LAN connections)');
  if (spec.redsocksPort !== undefined && !(spec.redsocksPort > 0 && spec.redsocksPort < 65536)) bad('bad --redsocks-port');
}

/**
 * What the spec names that this machine lacks: each WAN's interface and its address on it, and
 * the LAN interface. One line per problem, empty when everything is there.
 */
export function missingOnHost(spec: GatewaySpec, links: ReadonlySet<string>, addrs: ReadonlyMap<string, readonly string[]>): string[] {
  const problems: string[] = [];
  for (const w of spec.wans) {
    if (!links.has(w.iface)) {
      problems.push(`--wan ${w.name}: interface ${w.iface} does not exist`);
      continue;
    }
    const have = addrs.get(w.iface) ?? [];
    if (!have.includes(w.addr)) {
      problems.push(`--wan ${w.name}: ${w.addr} is not an address of ${w.iface} (${have.length ? `it has ${have.join(', ')}` : 'it has no IPv4 address'})`);
    }
  }
  if (spec.lan?.iface !== undefined && !links.has(spec.lan.iface)) problems.push(`--lan: interface ${spec.lan.iface} does not exist`);
  return problems;
}
