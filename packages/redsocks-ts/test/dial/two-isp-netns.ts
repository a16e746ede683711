/**
 * The two-ISP namespace pair the dial tests share, set up by hand as a user would: a client
 * namespace with c1 (10.1.1.1, the default route) and c2 (10.1.2.1, reachable by source through
 * table 102) to a server namespace whose SOCKS peer answers on 10.9.9.9 over both.
 */
import { Netns, veth } from '@mptcp-proxy/lab';

export const SERVER = '10.9.9.9';
export const A1 = '10.1.1.1';
export const A2 = '10.1.2.1';

export function twoIspNetns(prefix: string): { cli: Netns; srv: Netns } {
  const cli = Netns.create(`${prefix}c`);
  const srv = Netns.create(`${prefix}s`);
  veth(cli, 'c1', `${A1}/24`, srv, 's1', '10.1.1.2/24');
  veth(cli, 'c2', `${A2}/24`, srv, 's2', '10.1.2.2/24');
  srv.exec(`ip addr add ${SERVER}/32 dev lo`);
  for (const ns of [cli, srv]) {
    ns.exec('sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.mptcp.enabled=1');
    ns.exec('ip mptcp limits set subflow 2 add_addr_accepted 2');
  }
  srv.exec('sysctl -qw net.ipv4.conf.s1.rp_filter=0 net.ipv4.conf.s2.rp_filter=0');
  cli.exec('ip route add default via 10.1.1.2 dev c1');
  cli.exec(`ip route add default via 10.1.2.2 dev c2 table 102 && ip rule add from ${A2} table 102`);
  return { cli, srv };
}
