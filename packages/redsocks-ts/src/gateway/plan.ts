/**
 * Pure planning: from the wanted gateway (spec) and what the system has now (snapshot),
 * the commands that make it so. Each step says why, so --dry-run reads as an explanation.
 */
import { familyOf, GatewaySpec } from './spec';
import { Endpoint, Route, Rule } from './system';
import { LEGACY_NFT_FAMILY, NFT_FAMILY, NFT_TABLE, loadedHash, nftRules } from './nft-rules';

export interface Step {
  what: string;
  why: string;
  cmd: string;
  /** nft input for `nft -f -` (cmd then is `nft -f -`). */
  stdin?: string;
}

export interface Snapshot {
  sysctls: Record<string, string | undefined>;
  limits?: { subflows: number; addAddrAccepted: number };
  endpoints: Endpoint[];
  /** IPv4 and IPv6 rules. */
  rules: Rule[];
  /** The routes of each table setup uses, in the family it uses them for. */
  routes: Record<number, Route[]>;
  /** IPv6 routes of the TPROXY table. */
  routes6?: Record<number, Route[]>;
  nftTable?: string;
  /** `ip mptcp_gateway`, as setup wrote it before it steered IPv6 (removed on upgrade). */
  legacyNftTable?: string;
  /** false when this host has IPv6 switched off (no IPv6 routes can be added then). */
  ipv6?: boolean;
}

/** What setup remembers so that --undo can put things back. */
export interface SavedState {
  version: 1;
  spec: GatewaySpec;
  sysctls: Record<string, string>; // previous values of what setup changed
  limits?: { subflows: number; addAddrAccepted: number };
  endpoints: string[]; // addresses setup added
}

export interface SysctlWant {
  key: string;
  value: string;
  why: string;
}

export const TPROXY_TABLE = 99;

export function tableOf(spec: GatewaySpec, i: number): number {
  return spec.tableBase + i + 1;
}

/** `ip` or `ip -6`, for an address. */
export function ipCmd(addr: string): string {
  return familyOf(addr) === 6 ? 'ip -6' : 'ip';
}

/** TPROXY needs marked packets delivered locally: when TCP is TPROXY'd or UDP goes to redudp. */
export function usesTproxy(spec: GatewaySpec): boolean {
  return Boolean(spec.lan && (spec.tproxy || spec.udpPort));
}

export function wantedSysctls(spec: GatewaySpec, current: Record<string, string | undefined>): SysctlWant[] {
  const tfo = Number(current['net.ipv4.tcp_fastopen'] ?? '1');
  const w: SysctlWant[] = [
    { key: 'net.mptcp.enabled', value: '1', why: 'allow IPPROTO_MPTCP sockets at all' },
    { key: 'net.mptcp.pm_type', value: '0', why: 'the in-kernel path manager acts on the endpoints configured here' },
    {
      key: 'net.mptcp.stale_loss_cnt',
      value: String(spec.staleLossCnt),
      why:
        'after this many retransmission timeouts without progress a subflow is "stale" and the scheduler ' +
        'stops using it; with the RTO doubling each time, 2 instead of the default 4 avoids a dead ISP ' +
        'seconds sooner in a long outage (data in flight is already reinjected at its first RTO)',
    },
  ];
  if (spec.role === 'gateway') {
    w.push({
      key: 'net.mptcp.blackhole_timeout',
      value: '0',
      why:
        'MPTCP "blackhole" detection (kernel >= 6.12) takes an MP_CAPABLE SYN lost with its first two retries, then ' +
        'an answered plain SYN, for a middlebox that drops MPTCP, and then opens EVERY new connection of this host as plain ' +
        'TCP for an hour (doubling each time): one ISP, no failover. An ISP outage or a lossy link produces ' +
        'exactly that pattern; the proxy is known to speak MPTCP, and a peer that does not still gets the ' +
        'normal per-connection fallback',
    });
    w.push({
      key: 'net.ipv4.tcp_fastopen',
      value: String(tfo | 0x1),
      why: 'bit 0x1 lets redsocks-ts send the SOCKS handshake in the SYN (TFO client); other bits are kept',
    });
    w.push({
      key: 'net.ipv4.conf.all.rp_filter',
      value: '2',
      why: 'loose reverse-path filter: replies for the subflow of the second ISP arrive on its own interface ' +
        'while the main table routes the server via the first ISP, which strict mode (1) would drop',
    });
    for (const wan of spec.wans) {
      w.push({ key: `net.ipv4.conf.${wan.iface}.rp_filter`, value: '2', why: `loose reverse-path filter on ${wan.iface} (see above)` });
    }
    if (spec.lan && spec.redsocksPort && spec.quic === 'reject') {
      const why =
        'QUIC is refused with an ICMP port-unreachable so browsers fall back to TCP at once; the kernel sends at most ' +
        'one ICMP error per second to each host (a burst of 6), so a LAN host opening QUIC to more sites than that at ' +
        'once would wait out its QUIC timeout on the rest. 0 lifts the per-host limit; the host-wide one ' +
        '(net.ipv4.icmp_msgs_per_sec, shared by both families) still applies';
      w.push({ key: 'net.ipv4.icmp_ratelimit', value: '0', why });
      if (spec.ipv6) w.push({ key: 'net.ipv6.icmp.ratelimit', value: '0', why: `${why} (IPv6)` });
    }
  } else {
    w.push({
      key: 'net.ipv4.tcp_fastopen',
      value: String(tfo | 0x2),
      why: 'bit 0x2 lets the SOCKS server accept data in the SYN (TFO server); other bits are kept',
    });
  }
  return w;
}

export function wantedLimits(spec: GatewaySpec): { subflows: number; addAddrAccepted: number } {
  // One extra subflow per extra WAN on the gateway; a server must accept as many joins.
  const n = Math.max(2, spec.wans.length);
  return { subflows: Math.min(8, n), addAddrAccepted: Math.min(8, n) };
}

function endpointFlags(backup: boolean): string[] {
  return backup ? ['subflow', 'backup'] : ['subflow'];
}

export function planSetup(spec: GatewaySpec, snap: Snapshot): Step[] {
  const steps: Step[] = [];
  for (const s of wantedSysctls(spec, snap.sysctls)) {
    if (!(s.key in snap.sysctls) || snap.sysctls[s.key] === undefined) continue; // not on this kernel
    if (snap.sysctls[s.key] === s.value) continue;
    steps.push({ what: `sysctl ${s.key}=${s.value}`, why: s.why, cmd: `sysctl -qw ${s.key}=${s.value}` });
  }
  const lim = wantedLimits(spec);
  if (!snap.limits || snap.limits.subflows < lim.subflows || snap.limits.addAddrAccepted < lim.addAddrAccepted) {
    const sub = Math.max(lim.subflows, snap.limits?.subflows ?? 0);
    const acc = Math.max(lim.addAddrAccepted, snap.limits?.addAddrAccepted ?? 0);
    steps.push({
      what: `MPTCP limits: subflow ${sub}, add_addr_accepted ${acc}`,
      why: 'each connection may open one extra subflow per extra WAN (and the server must accept that many joins)',
      cmd: `ip mptcp limits set subflow ${sub} add_addr_accepted ${acc}`,
    });
  }
  if (spec.role === 'server') return steps;

  spec.wans.forEach((wan, i) => {
    const flags = endpointFlags(wan.backup);
    const have = snap.endpoints.find((e) => e.address === wan.addr);
    const same =
      have && have.dev === wan.iface && flags.every((f) => have.flags.includes(f)) &&
      have.flags.filter((f) => f !== 'implicit').length === flags.length;
    if (!same) {
      const del = have ? `ip mptcp endpoint delete id ${have.id} && ` : '';
      steps.push({
        what: `MPTCP endpoint ${wan.addr} dev ${wan.iface} ${flags.join(' ')}`,
        why: wan.backup
          ? `${wan.name} is metered: its subflow is a backup, used only when no other subflow works`
          : `every upstream connection also opens a subflow from ${wan.name} (${wan.addr})`,
        cmd: `${del}ip mptcp endpoint add ${wan.addr} dev ${wan.iface} ${flags.join(' ')}`,
      });
    }
    const table = tableOf(spec, i);
    const ip = ipCmd(wan.addr);
    const routes = snap.routes[table] ?? [];
    if (!routes.some((r) => r.dst === 'default' && r.gateway === wan.gw && r.dev === wan.iface)) {
      steps.push({
        what: `routing table ${table}: default via ${wan.gw} dev ${wan.iface}`,
        why: `packets sourced from ${wan.addr} must leave through ${wan.name}, whose ISP would drop them elsewhere`,
        cmd: `${ip} route replace default via ${wan.gw} dev ${wan.iface} table ${table}`,
      });
    }
    const prio = spec.rulePrio + i;
    if (!snap.rules.some((r) => r.src === wan.addr && r.table === String(table))) {
      steps.push({
        what: `policy rule: from ${wan.addr} lookup ${table}`,
        why: `without it the ${wan.name} subflow follows the main table's default route out the wrong ISP`,
        cmd: `${ip} rule add from ${wan.addr} lookup ${table} priority ${prio}`,
      });
    }
  });

  if (usesTproxy(spec)) {
    const mark = `0x${spec.tproxyMark.toString(16)}`;
    const families: Array<[4 | 6, string, Route[]]> = [[4, 'ip', snap.routes[TPROXY_TABLE] ?? []]];
    if (spec.ipv6 && snap.ipv6 !== false) families.push([6, 'ip -6', snap.routes6?.[TPROXY_TABLE] ?? []]);
    for (const [family, ip, routes] of families) {
      const any = family === 6 ? '::/0' : '0.0.0.0/0';
      if (!snap.rules.some((r) => r.family === family && r.fwmark !== undefined && r.table === String(TPROXY_TABLE))) {
        steps.push({
          what: `policy rule (IPv${family}): fwmark ${mark} lookup ${TPROXY_TABLE}`,
          why: 'TPROXY-marked LAN packets must be delivered locally to the transparent listener',
          cmd: `${ip} rule add fwmark ${mark} lookup ${TPROXY_TABLE} priority ${spec.rulePrio - 1}`,
        });
      }
      if (!routes.some((r) => r.type === 'local')) {
        steps.push({
          what: `routing table ${TPROXY_TABLE}: local ${any} dev lo`,
          why: 'the TPROXY table treats every destination as local',
          cmd: `${ip} route replace local ${any} dev lo table ${TPROXY_TABLE}`,
        });
      }
    }
  }

  if (snap.legacyNftTable !== undefined) {
    steps.push({
      what: `delete nftables table ${LEGACY_NFT_FAMILY} ${NFT_TABLE}`,
      why: `an earlier mptcp-gateway wrote it; table ${NFT_FAMILY} ${NFT_TABLE} replaces it and steers IPv6 too`,
      cmd: `nft delete table ${LEGACY_NFT_FAMILY} ${NFT_TABLE}`,
    });
  }
  const rules = nftRules(spec);
  if (rules && loadedHash(snap.nftTable) !== loadedHash(rules)) {
    const steered = [
      `${spec.tproxy ? 'TPROXY' : 'REDIRECT'} LAN TCP to :${spec.redsocksPort}`,
      ...(spec.dnsPort ? [`DNS to :${spec.dnsPort}`] : []),
      ...(spec.udpPort ? [`TPROXY LAN UDP to :${spec.udpPort}`] : []),
      `QUIC ${spec.quic === 'reject' ? 'rejected' : spec.quic === 'direct' ? 'direct' : 'to redudp'}`,
      ...(spec.ipv6 ? [] : ['IPv4 only']),
    ];
    steps.push({
      what: `nftables table ${NFT_FAMILY} ${NFT_TABLE} (${steered.join(', ')})`,
      why:
        'send the LAN\'s flows to the daemons: private, local and proxy destinations bypass, only redirected ' +
        'or TPROXY\'d connections reach the listeners, the gateway\'s own traffic is never touched',
      cmd: 'nft -f -',
      // Declaring then deleting the table makes the replacement atomic and idempotent.
      stdin: `table ${NFT_FAMILY} ${NFT_TABLE}\ndelete table ${NFT_FAMILY} ${NFT_TABLE}\n${rules}`,
    });
  }
  return steps;
}

export function planUndo(st: SavedState, snap: Snapshot): Step[] {
  const spec = st.spec;
  const steps: Step[] = [];
  if (snap.nftTable !== undefined) {
    steps.push({ what: `delete nftables table ${NFT_FAMILY} ${NFT_TABLE}`, why: 'stop redirecting the LAN', cmd: `nft delete table ${NFT_FAMILY} ${NFT_TABLE}` });
  }
  if (snap.legacyNftTable !== undefined) {
    steps.push({ what: `delete nftables table ${LEGACY_NFT_FAMILY} ${NFT_TABLE}`, why: 'stop redirecting the LAN', cmd: `nft delete table ${LEGACY_NFT_FAMILY} ${NFT_TABLE}` });
  }
  spec.wans.forEach((wan, i) => {
    const table = tableOf(spec, i);
    const ip = ipCmd(wan.addr);
    for (const r of snap.rules.filter((x) => x.src === wan.addr && x.table === String(table))) {
      steps.push({ what: `delete rule from ${wan.addr} lookup ${table}`, why: 'undo', cmd: `${ip} rule del from ${wan.addr} lookup ${table} priority ${r.priority}` });
    }
    if ((snap.routes[table] ?? []).length) {
      steps.push({ what: `flush routing table ${table}`, why: 'undo', cmd: `${ip} route flush table ${table}` });
    }
    const ep = snap.endpoints.find((e) => e.address === wan.addr);
    if (ep && st.endpoints.includes(wan.addr)) {
      steps.push({ what: `delete MPTCP endpoint ${wan.addr}`, why: 'undo', cmd: `ip mptcp endpoint delete id ${ep.id}` });
    }
  });
  if (spec.tproxy || spec.udpPort) {
    for (const r of snap.rules.filter((x) => x.fwmark !== undefined && x.table === String(TPROXY_TABLE))) {
      steps.push({ what: `delete fwmark rule (IPv${r.family})`, why: 'undo', cmd: `${r.family === 6 ? 'ip -6' : 'ip'} rule del priority ${r.priority}` });
    }
    if ((snap.routes[TPROXY_TABLE] ?? []).length) {
      steps.push({ what: `flush routing table ${TPROXY_TABLE}`, why: 'undo', cmd: `ip route flush table ${TPROXY_TABLE}` });
    }
    if ((snap.routes6?.[TPROXY_TABLE] ?? []).length) {
      steps.push({ what: `flush routing table ${TPROXY_TABLE} (IPv6)`, why: 'undo', cmd: `ip -6 route flush table ${TPROXY_TABLE}` });
    }
  }
  if (st.limits) {
    steps.push({
      what: `MPTCP limits back to subflow ${st.limits.subflows}, add_addr_accepted ${st.limits.addAddrAccepted}`,
      why: 'undo',
      cmd: `ip mptcp limits set subflow ${st.limits.subflows} add_addr_accepted ${st.limits.addAddrAccepted}`,
    });
  }
  for (const [key, value] of Object.entries(st.sysctls)) {
    if (snap.sysctls[key] !== undefined && snap.sysctls[key] !== value) {
      steps.push({ what: `sysctl ${key}=${value}`, why: 'undo: the value before setup', cmd: `sysctl -qw ${key}=${value}` });
    }
  }
  return steps;
}
