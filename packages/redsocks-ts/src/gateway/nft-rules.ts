/**
 * The nftables table `inet mptcp_gateway` that steers every LAN flow (docs/lab.md, "mptcp-gateway"):
 *
 * - `redirect_lan` (nat prerouting): LAN DNS (UDP and TCP port 53, to any address) to the
 *   `dns {}` forwarder (--dns-port); then, unless the destination bypasses, LAN TCP to
 *   redsocks-ts by REDIRECT (IPv4 and IPv6).
 * - `divert_lan` (mangle prerouting): TCP by TPROXY (--tproxy) and LAN UDP to redudp
 *   (--udp-port), with the TPROXY mark.
 * - `reject_quic` (filter prerouting): by default LAN UDP to port 443 gets an ICMP
 *   port-unreachable at once, so browsers fall back to TCP (bonded) without waiting for a
 *   QUIC timeout (--quic reject|direct|redudp).
 * - `guard` (filter input): only REDIRECTed or TPROXY'd connections reach the redsocks-ts
 *   listener (it is never an open proxy, also when it binds 0.0.0.0 / ::), only TPROXY'd
 *   datagrams reach redudp, and only the LAN (and the gateway itself) reaches the forwarder.
 *
 * What bypasses: this host's own addresses, private, loopback, link-local, CGNAT, multicast and
 * reserved destinations (both families), and the SOCKS server. Only LAN-ingress packets are
 * matched (prerouting, by LAN interface or source CIDR), so the gateway's own traffic, and with
 * it every daemon's upstream connection and probe, is never touched (output hook).
 * The table carries a comment with a hash of its text: setup re-applies it only when it changed.
 */
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import { GatewaySpec } from './spec';

export const NFT_FAMILY = 'inet';
export const NFT_TABLE = 'mptcp_gateway';
/** The table's name in the `ip` family, as setup wrote it before IPv6 support (removed on upgrade). */
export const LEGACY_NFT_FAMILY = 'ip';

/** Destinations that never go through the proxy (as conf/nftables/gateway-redirect.nft). */
export const BYPASS4 = ['0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.168.0.0/16', '224.0.0.0/3'];
/** Unspecified and loopback, IPv4-mapped, ULA, link-local, multicast. */
export const BYPASS6 = ['::/127', '::ffff:0:0/96', 'fc00::/7', 'fe80::/10', 'ff00::/8'];

const COMMENT_PREFIX = 'mptcp-gateway ';

/** The hash setup compares to tell whether the loaded table is the wanted one. */
export function rulesHash(body: string): string {
  return createHash('sha1').update(body).digest('hex').slice(0, 16);
}

/** The hash in a listed table's comment, if it is ours. */
export function loadedHash(listing: string | undefined): string | undefined {
  return listing ? new RegExp(`comment "${COMMENT_PREFIX}([0-9a-f]+)"`).exec(listing)?.[1] : undefined;
}

function lanMatch(spec: GatewaySpec): string {
  const lan = spec.lan!;
  if (lan.iface) return `iifname "${lan.iface}"`;
  return `${net.isIPv6(lan.cidr!.split('/')[0]!) ? 'ip6' : 'ip'} saddr ${lan.cidr}`;
}

/** The table's text, or '' when there is no LAN to steer. */
export function nftRules(spec: GatewaySpec): string {
  if (!spec.lan || !spec.redsocksPort) return '';
  const lan = lanMatch(spec);
  const port = spec.redsocksPort;
  const mark = `0x${spec.tproxyMark.toString(16)}`;
  const v6 = spec.ipv6;
  // IPv4-only: IPv6 is left alone (it goes out directly, as before this table existed)
  const fam = v6 ? '' : 'meta nfproto ipv4 ';
  const bypass = [
    `${lan} fib daddr type local return`,
    `${lan} ip daddr @bypass4 return`,
    ...(v6 ? [`${lan} ip6 daddr @bypass6 return`] : []),
    ...(spec.proxy ? [`${lan} ${net.isIPv6(spec.proxy.host) ? 'ip6' : 'ip'} daddr ${spec.proxy.host} return`] : []),
  ];
  const set = (name: string, type: string, elements: string[]): string[] => [
    `  set ${name} {`,
    `    type ${type}`,
    '    flags interval',
    `    elements = { ${elements.join(', ')} }`,
    '  }',
  ];
  const chain = (name: string, hook: string, rules: string[]): string[] =>
    rules.length === 0 ? [] : [`  chain ${name} {`, `    ${hook}`, ...rules.map((r) => `    ${r}`), '  }'];

  const redirect: string[] = [];
  if (spec.dnsPort) {
    redirect.push(`${lan} ${fam}udp dport 53 redirect to :${spec.dnsPort}`, `${lan} ${fam}tcp dport 53 redirect to :${spec.dnsPort}`);
  }
  if (!spec.tproxy) redirect.push(...bypass, `${lan} ${fam}meta l4proto tcp redirect to :${port}`);

  const quic = spec.quic;
  const divert: string[] = [];
  if (spec.tproxy || spec.udpPort) {
    divert.push(...bypass);
    if (spec.tproxy) divert.push(`${lan} ${fam}meta l4proto tcp tproxy to :${port} meta mark set ${mark} accept`);
    if (spec.udpPort) {
      // DNS goes to the forwarder (nat, after this hook); QUIC is rejected or left alone unless routed to redudp
      if (spec.dnsPort) divert.push(`${lan} udp dport 53 return`);
      if (quic !== 'redudp') divert.push(`${lan} udp dport 443 return`);
      divert.push(`${lan} ${fam}meta l4proto udp tproxy to :${spec.udpPort} meta mark set ${mark} accept`);
    }
  }

  const reject: string[] = quic === 'reject' ? [...bypass, `${lan} ${fam}udp dport 443 reject with icmpx port-unreachable`] : [];

  const guard: string[] = [
    spec.tproxy ? `tcp dport ${port} meta mark ${mark} accept` : `tcp dport ${port} ct status dnat accept`,
    `tcp dport ${port} reject with tcp reset`,
  ];
  if (spec.udpPort) guard.push(`udp dport ${spec.udpPort} meta mark ${mark} accept`, `udp dport ${spec.udpPort} drop`);
  if (spec.dnsPort) {
    guard.push(
      `meta l4proto { tcp, udp } th dport ${spec.dnsPort} iif "lo" accept`,
      `${lan} meta l4proto { tcp, udp } th dport ${spec.dnsPort} accept`,
      `meta l4proto { tcp, udp } th dport ${spec.dnsPort} drop`,
    );
  }

  const body = [
    ...set('bypass4', 'ipv4_addr', BYPASS4),
    ...(v6 ? set('bypass6', 'ipv6_addr', BYPASS6) : []),
    ...chain('redirect_lan', 'type nat hook prerouting priority dstnat; policy accept;', redirect),
    ...chain('divert_lan', 'type filter hook prerouting priority mangle; policy accept;', divert),
    ...chain('reject_quic', 'type filter hook prerouting priority filter; policy accept;', reject),
    ...chain('guard', 'type filter hook input priority filter; policy accept;', guard),
  ].join('\n');
  // Written one statement per line: this nft version rejects one-line `table { chain { ... } }` input.
  return `table ${NFT_FAMILY} ${NFT_TABLE} {\n  comment "${COMMENT_PREFIX}${rulesHash(body)}"\n${body}\n}\n`;
}
