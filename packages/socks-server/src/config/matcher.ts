import { bytesInCidr, ipBytes, ruleNetBytes, unmapIPv4 } from './ip';
import { HostLookups, type SystemLookups } from './system-lookup';
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
/** Where interface rules find the interface's current addresses (the runtime's lookups). */
export type InterfaceLookup = Pick<SystemLookups, 'interfaceAddresses'>;

export function matchRule(rules: readonly Rule[], ctx: MatchContext, sys: InterfaceLookup = new HostLookups()): MatchResult {
  const eps = endpoints(ctx, sys);
  for (const rule of rules) {
    if (matches(rule, ctx, eps)) return { rule, pass: rule.action === 'pass' };
  }
  return { rule: undefined, pass: false };
}

export function matchClientRules(config: DantedConfig, ctx: MatchContext, sys?: InterfaceLookup): MatchResult {
  return matchRule(config.clientRules, ctx, sys);
}

export function matchSocksRules(config: DantedConfig, ctx: MatchContext, sys?: InterfaceLookup): MatchResult {
  return matchRule(config.socksRules, ctx, sys);
}

export function ruleMatches(rule: Rule, ctx: MatchContext, sys: InterfaceLookup = new HostLookups()): boolean {
  return matches(rule, ctx, endpoints(ctx, sys));
}

interface Endpoints {
  client: Prepared;
  server: Prepared;
  dest: Prepared | undefined;
}

/** The three endpoints of a match, each parsed once however many rules are tried. */
function endpoints(ctx: MatchContext, sys: InterfaceLookup): Endpoints {
  return {
    client: prepare({ host: unmapIPv4(ctx.clientAddress), port: ctx.clientPort, names: ctx.clientHostnames }, sys),
    server: prepare({ host: unmapIPv4(ctx.serverAddress), port: ctx.serverPort, iface: ctx.interfaceName }, sys),
    dest: ctx.dest
      ? prepare({ host: unmapIPv4(ctx.dest.host), port: ctx.dest.port, names: [], addresses: ctx.destAddresses }, sys)
      : undefined,
  };
}

function matches(rule: Rule, ctx: MatchContext, eps: Endpoints): boolean {
  if (!preparedMatches(rule.from, eps.client)) return false;
  if (rule.type === 'client') {
    if (!preparedMatches(rule.to, eps.server)) return false;
    if (rule.clientMethod && !(rule.clientMethod as string[]).includes(ctx.method)) return false;
  } else {
    const dest = eps.dest;
    if (dest ? !preparedMatches(rule.to, dest) : rule.to.kind !== 'any' || rule.to.port) return false;
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

/** An endpoint with its addresses as bytes and its names listed: what every rule looks at. */
interface Prepared {
  port: number;
  ips: number[][];
  names: string[];
  iface?: string;
  sys: InterfaceLookup;
}

function prepare(ep: Endpoint, sys: InterfaceLookup): Prepared {
  const own = ipBytes(ep.host);
  if (own !== undefined) return { port: ep.port, ips: [own], names: ep.names ?? [], iface: ep.iface, sys };
  const ips: number[][] = [];
  for (const a of ep.addresses ?? []) {
    const b = ipBytes(unmapIPv4(a));
    if (b !== undefined) ips.push(b);
  }
  return { port: ep.port, ips, names: [ep.host, ...(ep.names ?? [])], iface: ep.iface, sys };
}

export function addressMatches(a: RuleAddress, ep: Endpoint, sys: InterfaceLookup = new HostLookups()): boolean {
  return preparedMatches(a, prepare(ep, sys));
}

function preparedMatches(a: RuleAddress, ep: Prepared): boolean {
  if (!portMatches(a.port, ep.port)) return false;
  const { ips, names } = ep;
  switch (a.kind) {
    case 'any':
      return true;
    case 'ipv4':
    case 'ipv6': {
      const n = ruleNetBytes(a.address);
      return ips.some((ip) => bytesInCidr(n, a.prefix, ip));
    }
    case 'hostname':
      return names.some((n) => normalizeName(n) === a.name);
    case 'domain':
      return names.some((n) => {
        const name = normalizeName(n);
        return name === a.suffix || name.endsWith(`.${a.suffix}`);
      });
    case 'interface': {
      if (ep.iface !== undefined && ep.iface === a.name) return true;
      const own = ep.sys.interfaceAddresses(a.name).map((o) => ruleNetBytes(unmapIPv4(o)));
      return ips.some((ip) => own.some((o) => sameBytes(o, ip)));
    }
  }
}

function normalizeName(n: string): string {
  return n.toLowerCase().replace(/\.$/, '');
}

function sameBytes(x: readonly number[] | undefined, y: readonly number[]): boolean {
  return !!x && x.length === y.length && x.every((v, i) => v === y[i]);
}
