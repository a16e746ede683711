/** The nftables table `ip mptcp_gateway` that sends the LAN's TCP to redsocks-ts. */
import { GatewaySpec } from './spec';

export const NFT_FAMILY = 'ip';
export const NFT_TABLE = 'mptcp_gateway';

/**
 * Only LAN-ingress traffic (prerouting, matched by LAN interface or source CIDR) is redirected,
 * so the daemon's own upstream connections (output hook) can never loop back into it.
 * Connections to the proxy itself and to the gateway's own addresses pass untouched.
 * Written one rule per line: this nft version rejects one-line `table { chain { ... } }` input.
 */
export function nftRules(spec: GatewaySpec): string {
  if (!spec.lan || !spec.redsocksPort) return '';
  const lanMatch = spec.lan.iface ? `iifname "${spec.lan.iface}"` : `ip saddr ${spec.lan.cidr}`;
  const port = spec.redsocksPort;
  const bypass: string[] = [];
  if (spec.proxy) bypass.push(spec.proxy.host);
  if (spec.lan.cidr) bypass.push(spec.lan.cidr);
  // Written in the canonical form `nft list` prints, so setup can tell when nothing changed.
  const set = bypass.length === 1 ? bypass[0] : `{ ${bypass.join(', ')} }`;
  const lines = [`table ${NFT_FAMILY} ${NFT_TABLE} {`];
  if (!spec.tproxy) {
    lines.push(
      '  chain prerouting {',
      '    type nat hook prerouting priority dstnat; policy accept;',
      `    ${lanMatch} fib daddr type local return`,
      ...(bypass.length ? [`    ${lanMatch} ip daddr ${set} return`] : []),
      `    ${lanMatch} meta l4proto tcp redirect to :${port}`,
      '  }',
    );
  } else {
    const mark = `0x${spec.tproxyMark.toString(16)}`;
    lines.push(
      '  chain prerouting {',
      '    type filter hook prerouting priority mangle; policy accept;',
      `    ${lanMatch} fib daddr type local return`,
      ...(bypass.length ? [`    ${lanMatch} ip daddr ${set} return`] : []),
      `    ${lanMatch} meta l4proto tcp tproxy to :${port} meta mark set ${mark} accept`,
      '  }',
    );
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}
