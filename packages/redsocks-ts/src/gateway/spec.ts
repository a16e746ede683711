/** What `mptcp-gateway setup` is asked to build, parsed from its command line. */
import * as net from 'node:net';
import { ProxyError } from '@mptcp-proxy/common';

export interface WanSpec {
  name: string; // label, e.g. isp1
  iface: string;
  addr: string;
  gw: string;
  backup: boolean; // metered link: its subflows carry data only when no other subflow works
}

/** What happens to LAN QUIC (UDP port 443). */
export type QuicMode = 'reject' | 'direct' | 'redudp';

export interface GatewaySpec {
  role: 'gateway' | 'server';
  wans: WanSpec[];
  lan?: { iface?: string; cidr?: string };
  proxy?: { host: string; port: number };
  redsocksPort?: number;
  tproxy: boolean;
  /** LAN DNS (UDP and TCP port 53) goes to the `dns {}` forwarder on this port. */
  dnsPort?: number;
  /** LAN UDP goes to redudp on this port by TPROXY. */
  udpPort?: number;
  quic: QuicMode;
  /** Steer LAN IPv6 too (default); false leaves it alone. */
  ipv6: boolean;
  tableBase: number; // per-WAN routing table = tableBase + index + 1
  rulePrio: number; // per-source rule priority = rulePrio + index
  tproxyMark: number;
  staleLossCnt: number;
  statePath: string;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
export const isIpv4 = (s: string): boolean => IPV4.test(s) && s.split('.').every((o) => Number(o) <= 255);
/** An IPv6 literal without a zone (link-local WAN gateways need `%dev`, which `ip route ... dev` already gives). */
export const isIpv6 = (s: string): boolean => net.isIPv6(s) && !s.includes('%');
export const familyOf = (addr: string): 4 | 6 => (isIpv6(addr) ? 6 : 4);
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
  if (!addr || !(isIpv4(addr) || isIpv6(addr))) bad(`--wan "${s}": "${addr ?? ''}" is not an IPv4 or IPv6 address`);
  if (!gw || !(isIpv4(gw) || isIpv6(gw)) || familyOf(gw) !== familyOf(addr)) bad(`--wan "${s}": gateway "${gw ?? ''}" is not an IPv${familyOf(addr)} address`);
  for (const f of flags) if (f !== 'backup') bad(`--wan "${s}": unknown flag "${f}" (only "backup")`);
  return { name: m[1], iface, addr, gw, backup: flags.includes('backup') };
}

/** `IPv4:PORT` or `[IPv6]:PORT`. */
export function parseHostPort(s: string, what: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(s);
  const host = m?.[1] ?? m?.[2] ?? '';
  const ok = m && (m[1] !== undefined ? isIpv6(host) : isIpv4(host)) && Number(m[3]) >= 1 && Number(m[3]) <= 65535;
  if (!ok) bad(`${what} "${s}": expected IPv4:PORT or [IPv6]:PORT`);
  return { host, port: Number(m![3]) };
}

export function parseLan(s: string): { iface?: string; cidr?: string } {
  const [addr, len, more] = s.split('/');
  if (len !== undefined && more === undefined && /^\d{1,3}$/.test(len)) {
    if (isIpv4(addr!) && Number(len) <= 32) return { cidr: s };
    if (isIpv6(addr!) && Number(len) <= 128) return { cidr: s };
  }
  if (IFNAME.test(s)) return { iface: s };
  return bad(`--lan "${s}": expected an interface name or an IPv4/IPv6 CIDR`);
}

export function parseQuic(s: string): QuicMode {
  if (s === 'reject' || s === 'direct' || s === 'redudp') return s;
  return bad(`--quic "${s}": expected reject, direct or redudp`);
}

export function defaultSpec(): GatewaySpec {
  return {
    role: 'gateway',
    wans: [],
    tproxy: false,
    quic: 'reject',
    ipv6: true,
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
  for (const [flag, v] of [['--dns-port', spec.dnsPort], ['--udp-port', spec.udpPort]] as const) {
    if (v === undefined) continue;
    if (!(Number.isInteger(v) && v > 0 && v < 65536)) bad(`bad ${flag}`);
    if (!spec.lan) bad(`${flag} needs --lan (it steers LAN traffic)`);
  }
  if (spec.quic === 'redudp' && spec.udpPort === undefined) bad('--quic redudp needs --udp-port (where redudp listens)');
  if (spec.lan?.cidr && familyOf(spec.lan.cidr.split('/')[0]!) === 6 && !spec.ipv6) bad('--lan is an IPv6 CIDR but --ipv4-only was given');
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
      problems.push(`--wan ${w.name}: ${w.addr} is not an address of ${w.iface} (${have.length ? `it has ${have.join(', ')}` : 'it has no address'})`);
    }
  }
  if (spec.lan?.iface !== undefined && !links.has(spec.lan.iface)) problems.push(`--lan: interface ${spec.lan.iface} does not exist`);
  return problems;
}
