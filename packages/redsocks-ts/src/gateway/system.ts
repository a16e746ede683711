/** Reads the gateway's current networking state through the usual tools (ip, nft, ss, /proc). */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

/**
 * stdin must not be a pipe here: Node's pipes are socketpairs, and bash with a socket on stdin
 * believes it runs under rshd/sshd and sources ~/.bashrc (slow, and it may print or block).
 */
export function run(cmd: string): RunResult {
  const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status ?? 1, out: r.stdout ?? '', err: r.stderr ?? '' };
}

export function sysctlPath(key: string): string {
  return `/proc/sys/${key.replace(/\./g, '/')}`;
}

/** Current value, or undefined when this kernel has no such sysctl. */
export function readSysctl(key: string): string | undefined {
  try {
    return fs.readFileSync(sysctlPath(key), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** One group of /proc/net/netstat (a header line, then a value line) as name -> value; {} if absent. */
export function parseNetstat(text: string, group: string): Record<string, number> {
  const lines = text.split('\n').filter((l) => l.startsWith(`${group}:`));
  const out: Record<string, number> = {};
  if (lines.length < 2) return out;
  const keys = lines[0].split(/\s+/).slice(1);
  const vals = lines[1].split(/\s+/).slice(1);
  keys.forEach((k, i) => (out[k] = Number(vals[i] ?? 0)));
  return out;
}

/** The MPTcpExt counters of this network namespace; {} without /proc/net/netstat. */
export function readMptcpCounters(): Record<string, number> {
  try {
    return parseNetstat(fs.readFileSync('/proc/net/netstat', 'utf8'), 'MPTcpExt');
  } catch {
    return {};
  }
}

export interface Endpoint {
  id: number;
  address: string;
  dev?: string;
  flags: string[]; // subflow, signal, backup, fullmesh ...
}

export function readEndpoints(): Endpoint[] {
  const r = run('ip -j mptcp endpoint show');
  if (r.code !== 0 || !r.out.trim()) return [];
  const j = JSON.parse(r.out) as Array<Record<string, unknown>>;
  return j.map((e) => ({
    id: Number(e.id),
    address: String(e.address),
    dev: e.dev === undefined ? undefined : String(e.dev),
    flags: ['subflow', 'signal', 'backup', 'fullmesh', 'implicit', 'laminar'].filter((f) => e[f] === true),
  }));
}

/** `ip mptcp limits` (iproute2 6.1 prints text even with -j). */
export function readLimits(): { subflows: number; addAddrAccepted: number } | undefined {
  const r = run('ip mptcp limits show');
  if (r.code !== 0) return undefined;
  const sub = /subflows? (\d+)/.exec(r.out);
  const acc = /add_addr_accepted (\d+)/.exec(r.out);
  return { subflows: Number(sub?.[1] ?? 0), addAddrAccepted: Number(acc?.[1] ?? 0) };
}

export interface Rule {
  family: 4 | 6;
  priority: number;
  src?: string;
  table: string;
  fwmark?: string;
}

/** `ip rule` of one family (IPv4 by default). */
export function readRules(family: 4 | 6 = 4): Rule[] {
  const r = run(`ip ${family === 6 ? '-6 ' : ''}-j rule show`);
  if (r.code !== 0 || !r.out.trim()) return [];
  return (JSON.parse(r.out) as Array<Record<string, unknown>>).map((x) => ({
    family,
    priority: Number(x.priority),
    src: x.src === undefined || x.src === 'all' ? undefined : String(x.src),
    table: String(x.table),
    fwmark: x.fwmark === undefined ? undefined : String(x.fwmark),
  }));
}

export interface Route {
  dst: string;
  gateway?: string;
  dev?: string;
  type?: string;
}

/** The routes of one table and family (IPv4 by default). */
export function readRoutes(table: string | number, family: 4 | 6 = 4): Route[] {
  const r = run(`ip ${family === 6 ? '-6 ' : ''}-j route show table ${table}`);
  if (r.code !== 0 || !r.out.trim()) return [];
  return (JSON.parse(r.out) as Array<Record<string, unknown>>).map((x) => ({
    dst: String(x.dst),
    gateway: x.gateway === undefined ? undefined : String(x.gateway),
    dev: x.dev === undefined ? undefined : String(x.dev),
    type: x.type === undefined ? undefined : String(x.type),
  }));
}

/** Every link of this network namespace, with or without addresses. */
export function interfaceNames(): Set<string> {
  const r = run('ip -j link show');
  if (r.code !== 0 || !r.out.trim()) return new Set();
  return new Set((JSON.parse(r.out) as Array<{ ifname: string }>).map((l) => l.ifname));
}

/**
 * IPv4 and IPv6 addresses by interface, link-local ones left out (a WAN address is never one);
 * an interface with none maps to [].
 */
export function interfaceAddrs(): Map<string, string[]> {
  const r = run('ip -j addr show');
  const m = new Map<string, string[]>();
  if (r.code !== 0) return m;
  for (const l of JSON.parse(r.out) as Array<{ ifname: string; addr_info: Array<{ local: string; scope?: string }> }>) {
    m.set(l.ifname, l.addr_info.filter((a) => a.scope !== 'link').map((a) => a.local));
  }
  return m;
}

export function nftRuleset(): string {
  const r = run('nft list ruleset');
  return r.code === 0 ? r.out : '';
}

export function nftTable(family: string, name: string): string | undefined {
  const r = run(`nft list table ${family} ${name}`);
  return r.code === 0 ? r.out : undefined;
}
