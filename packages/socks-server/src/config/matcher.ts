import { cidrContains, ipBytes, unmapIPv4 } from './ip';
import { interfaceAddresses } from './system-lookup';
import type { DantedConfig, MatchContext, MatchResult, Rule, RuleAddress } from './types';
import { portMatches } from './values';

/**
 * Dante's rule evaluation: first match wins, no match = the implicit
 * `block { from: 0/0 to: 0/0 }`.
 *
 * client rules (at accept, before SOCKS negotiation): from = client, to = the internal
 * address/port the client connected to. socks rules (after the request): from = client,
 * to = the requested destination.
 */
export function matchRule(rules: readonly Rule[], ctx: MatchContext): MatchResult {
  for (const rule of rules) {
    if (ruleMatches(rule, ctx)) return { rule, pass: rule.action === 'pass' };
  }
  return { rule: undefined, pass: false };
}

export function matchClientRules(config: DantedConfig, ctx: MatchContext): MatchResult {
  return matchRule(config.clientRules, ctx);
}

export function matchSocksRules(config: DantedConfig, ctx: MatchContext): MatchResult {
  return matchRule(config.socksRules, ctx);
}

export function ruleMatches(rule: Rule, ctx: MatchContext): boolean {
  const client = { host: unmapIPv4(ctx.clientAddress), port: ctx.clientPort, names: ctx.clientHostnames };
  if (!addressMatches(rule.from, client)) return false;
  if (rule.type === 'client') {
    const server = { host: unmapIPv4(ctx.serverAddress), port: ctx.serverPort, iface: ctx.interfaceName };
    if (!addressMatches(rule.to, server)) return false;
    if (rule.clientMethod && !(rule.clientMethod as string[]).includes(ctx.method)) return false;
  } else {
    const dest = ctx.dest
      ? { host: unmapIPv4(ctx.dest.host), port: ctx.dest.port, names: [], addresses: ctx.destAddresses }
      : undefined;
    if (dest ? !addressMatches(rule.to, dest) : rule.to.kind !== 'any' || rule.to.port) return false;
    if (rule.command && !rule.command.includes(ctx.command)) return false;
    if (rule.protocol && !rule.protocol.includes(ctx.protocol)) return false;
    if (rule.proxyProtocol && !rule.proxyProtocol.includes(ctx.proxyProtocol)) return false;
    if (rule.socksMethod && !rule.socksMethod.includes(ctx.method)) return false;
  }
  if (rule.user && (ctx.user === undefined || !rule.user.includes(ctx.user))) return false;
  if (rule.group && !(ctx.groups ?? []).some((g) => rule.group?.includes(g))) return false;
  return true;
}

interface Endpoint {
  host: string; // IP literal or hostname
  port: number;
  /** Other names for an IP (reverse DNS), if known. */
  names?: string[];
  /** Addresses of a hostname (forward DNS), if known. */
  addresses?: string[];
  /** The interface the address belongs to, if known. */
  iface?: string;
}

export function addressMatches(a: RuleAddress, ep: Endpoint): boolean {
  if (!portMatches(a.port, ep.port)) return false;
  const isIp = ipBytes(ep.host) !== undefined;
  const ips = isIp ? [ep.host] : (ep.addresses ?? []).map(unmapIPv4);
  const names = isIp ? (ep.names ?? []) : [ep.host, ...(ep.names ?? [])];
  switch (a.kind) {
    case 'any':
      return true;
    case 'ipv4':
    case 'ipv6':
      return ips.some((ip) => cidrContains(a.address, a.prefix, ip));
    case 'hostname':
      return names.some((n) => normalizeName(n) === a.name);
    case 'domain':
      return names.some((n) => {
        const name = normalizeName(n);
        return name === a.suffix || name.endsWith(`.${a.suffix}`);
      });
    case 'interface': {
      if (ep.iface !== undefined && ep.iface === a.name) return true;
      const own = interfaceAddresses(a.name).map(unmapIPv4);
      return ips.some((ip) => own.some((o) => sameAddress(o, ip)));
    }
  }
}

function normalizeName(n: string): string {
  return n.toLowerCase().replace(/\.$/, '');
}

function sameAddress(a: string, b: string): boolean {
  const x = ipBytes(a);
  const y = ipBytes(b);
  return !!x && !!y && x.length === y.length && x.every((v, i) => v === y[i]);
}
