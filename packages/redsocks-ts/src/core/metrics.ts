/**
 * redsocks-ts' metrics (docs/metrics.md): prom-client series fed by the per-connection events
 * of events.ts, plus what only a scrape can see (WAN path health, the pool, and the subflows of
 * live upstream connections, read from the kernel at scrape time). Exists only while
 * `metrics_port` is set: with metrics off nothing subscribes and no event is built.
 */
import type * as net from 'node:net';
import * as mptcpNative from 'mptcp-native';
import { Counter, Gauge, Histogram } from 'prom-client';
import { EventMetrics } from '@mptcp-proxy/common';
import {
  CHANNELS,
  type ConnAccepted,
  type ConnClosed,
  type ConnHandshake,
  type DnsQueryEvent,
  type OptimisticEvent,
  type PoolEvent,
  type UdpDatagramEvent,
  type UdpFlowEvent,
} from '../events';
import type { PathView } from '../dial/path-health';
import type { PoolStats } from '../dial/warm-pool';
import { readInterfaceBytes } from '../net/interface-bytes';

/** What the metrics read from the running daemon at each scrape. */
export interface MetricsSource {
  instances(): Iterable<{
    key: string;
    paths(): PathView[];
    pathBySource(address: string): string | undefined;
    poolStats(): PoolStats;
    /** Live clients: their relayed bytes so far and their upstream socket. */
    clients(): Iterable<{ key: string; bytes(): { up: number; down: number }; upstream: net.Socket | undefined }>;
  }>;
}

interface SubflowSeen {
  up: number;
  down: number;
  retrans: number;
}

const HANDSHAKE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 2, 5, 10];

export class RedsocksMetrics extends EventMetrics {
  /**
   * Registered first: prom-client collects in registration order, so this reads the kernel
   * (subflows, interface counters) before any path series is written out.
   */
  private readonly scan: Gauge = new Gauge({
    name: 'redsocks_scrape_connections_read',
    help: 'Upstream connections whose subflows this scrape read',
    registers: [this.registry],
    collect: (): void => this.scan.set(this.scanPaths()),
  });
  private readonly pathUp = new Gauge({ name: 'redsocks_path_up', help: 'WAN path health: 1 up, 0 down, -1 unknown (not probed yet)', labelNames: ['path', 'source'], registers: [this.registry] });
  private readonly pathRtt = new Gauge({ name: 'redsocks_path_connect_rtt_seconds', help: 'Smoothed connect time to the proxy over each WAN path (probes and real connects)', labelNames: ['path'], registers: [this.registry] });
  private readonly pathSrtt = new Gauge({ name: 'redsocks_path_subflow_rtt_seconds', help: 'Mean smoothed RTT of the live subflows on each WAN path', labelNames: ['path'], registers: [this.registry] });
  private readonly pathSubflows = new Gauge({ name: 'redsocks_path_subflows', help: 'Established subflows on each WAN path', labelNames: ['path'], registers: [this.registry] });
  private readonly pathConns = new Gauge({ name: 'redsocks_path_connections', help: 'Live upstream connections with a subflow on each WAN path', labelNames: ['path'], registers: [this.registry] });
  private readonly pathIface = new Counter({
    name: 'redsocks_path_interface_bytes',
    help: 'Bytes through the device of each WAN path that names one (`dev`): all its traffic, rx = down',
    labelNames: ['path', 'device', 'direction'],
    registers: [this.registry],
  });
  /** Bytes of each live client (`instance client`) already counted; the rest is counted at the next scrape or at close. */
  private readonly counted = new Map<string, { up: number; down: number }>();
  /** Per upstream socket, per subflow id: the tcp_info counters already counted. */
  private readonly subflowSeen = new WeakMap<net.Socket, Map<number, SubflowSeen>>();
  private readonly verdicts = new Map<string, OptimisticEvent['verdict']>();

  private readonly active = new Gauge({ name: 'redsocks_connections_active', help: 'Client connections open now', labelNames: ['instance'], registers: [this.registry] });
  private readonly total = new Counter({ name: 'redsocks_connections', help: 'Client connections accepted', labelNames: ['instance'], registers: [this.registry] });
  private readonly closed = new Counter({
    name: 'redsocks_connections_closed',
    help: 'Client connections closed, by outcome (ok, reset, upstream, dropped) and error code',
    labelNames: ['instance', 'outcome', 'code'],
    registers: [this.registry],
  });
  private readonly bytes = new Counter({ name: 'redsocks_bytes', help: 'Bytes relayed, up = client to proxy', labelNames: ['instance', 'direction'], registers: [this.registry] });
  private readonly handshake = new Histogram({
    name: 'redsocks_handshake_seconds',
    help: 'From accept to the tunnel being up (dial + upstream handshake)',
    labelNames: ['instance'],
    buckets: HANDSHAKE_BUCKETS,
    registers: [this.registry],
  });
  private readonly pool = new Counter({ name: 'redsocks_pool_requests', help: 'Upstream dials that asked the warm pool, by result (hit, miss)', labelNames: ['instance', 'result'], registers: [this.registry] });
  private readonly verdictTotal = new Counter({ name: 'redsocks_optimistic_verdicts', help: 'Optimistic-connect verdicts learnt about SOCKS5 servers', labelNames: ['server', 'verdict'], registers: [this.registry] });
  private readonly pathBytes = new Counter({ name: 'redsocks_path_subflow_bytes', help: 'Bytes on the subflows of live upstream connections on each WAN path, read at each scrape (up = acked by the proxy, down = received)', labelNames: ['path', 'direction'], registers: [this.registry] });
  private readonly pathRetrans = new Counter({ name: 'redsocks_path_retransmits', help: 'Segments retransmitted on the subflows of each WAN path', labelNames: ['path'], registers: [this.registry] });

  // dns {} and redudp {} (`section` = their local_ip:local_port)
  private readonly dnsQueries = new Counter({
    name: 'redsocks_dns_queries',
    help: 'DNS queries to the dns {} forwarder, by transport and outcome (answered, servfail, formerr, ignored)',
    labelNames: ['section', 'transport', 'outcome'],
    registers: [this.registry],
  });
  private readonly dnsCacheHits = new Counter({ name: 'redsocks_dns_cache_hits', help: 'DNS queries answered from the forwarder\'s cache', labelNames: ['section'], registers: [this.registry] });
  private readonly dnsSeconds = new Histogram({
    name: 'redsocks_dns_query_seconds',
    help: 'From a query\'s arrival to its answer (cache or tunnel)',
    labelNames: ['section'],
    buckets: HANDSHAKE_BUCKETS,
    registers: [this.registry],
  });
  private readonly udpDatagrams = new Counter({ name: 'redsocks_udp_datagrams', help: 'Datagrams relayed by redudp {}, up = LAN client to the server', labelNames: ['section', 'direction'], registers: [this.registry] });
  private readonly udpBytes = new Counter({ name: 'redsocks_udp_bytes', help: 'Payload bytes relayed by redudp {}, up = LAN client to the server', labelNames: ['section', 'direction'], registers: [this.registry] });
  private readonly udpFlows = new Counter({ name: 'redsocks_udp_flows', help: 'redudp {} flows (a client address and a destination) opened', labelNames: ['section'], registers: [this.registry] });
  private readonly udpFlowsActive = new Gauge({ name: 'redsocks_udp_flows_active', help: 'redudp {} flows open now', labelNames: ['section'], registers: [this.registry] });
  private readonly udpAssociations = new Counter({
    name: 'redsocks_udp_associations',
    help: 'SOCKS5 UDP ASSOCIATEs a redudp {} flow made use of: first (the flow\'s first), move (to another WAN path)',
    labelNames: ['section', 'kind'],
    registers: [this.registry],
  });

  constructor(private readonly source: MetricsSource) {
    super();
    const self = this;
    new Gauge({
      name: 'redsocks_optimistic_verdict',
      help: 'The current optimistic-connect verdict of each SOCKS5 server (1 = this verdict)',
      labelNames: ['server', 'verdict'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [server, verdict] of self.verdicts) this.set({ server, verdict }, 1);
      },
    });
    new Gauge({
      name: 'redsocks_pool_connections',
      help: 'Warm-pool connections: size (configured), idle (ready), pending (opening)',
      labelNames: ['instance', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const inst of self.source.instances()) {
          const s = inst.poolStats();
          if (s.size === 0) continue;
          this.set({ instance: inst.key, state: 'size' }, s.size);
          this.set({ instance: inst.key, state: 'idle' }, s.idle);
          this.set({ instance: inst.key, state: 'pending' }, s.pending);
        }
      },
    });
    this.on<ConnAccepted>(CHANNELS.accepted, (m) => {
      this.active.inc({ instance: m.instance });
      this.total.inc({ instance: m.instance });
    });
    this.on<ConnHandshake>(CHANNELS.handshake, (m) => this.handshake.observe({ instance: m.instance }, m.ms / 1000));
    this.on<ConnClosed>(CHANNELS.closed, (m) => {
      this.active.dec({ instance: m.instance });
      this.closed.inc({ instance: m.instance, outcome: m.outcome, code: m.code ?? '' });
      const id = `${m.instance} ${m.client}`;
      const seen = this.counted.get(id);
      this.counted.delete(id);
      this.bytes.inc({ instance: m.instance, direction: 'up' }, Math.max(0, m.bytesUp - (seen?.up ?? 0)));
      this.bytes.inc({ instance: m.instance, direction: 'down' }, Math.max(0, m.bytesDown - (seen?.down ?? 0)));
      if (m.upstream) this.readSubflows(m.upstream, (a) => this.pathOf(m.instance, a));
    });
    this.on<PoolEvent>(CHANNELS.pool, (m) => this.pool.inc({ instance: m.instance, result: m.hit ? 'hit' : 'miss' }));
    this.on<DnsQueryEvent>(CHANNELS.dns, (m) => {
      this.dnsQueries.inc({ section: m.section, transport: m.transport, outcome: m.outcome });
      if (m.cached) this.dnsCacheHits.inc({ section: m.section });
      if (m.outcome !== 'ignored') this.dnsSeconds.observe({ section: m.section }, m.ms / 1000);
    });
    this.on<UdpFlowEvent>(CHANNELS.udp, (m) => {
      if (m.event === 'open') {
        this.udpFlows.inc({ section: m.section });
        this.udpFlowsActive.inc({ section: m.section });
      } else if (m.event === 'close') this.udpFlowsActive.dec({ section: m.section });
      else this.udpAssociations.inc({ section: m.section, kind: m.event === 'ready' ? 'first' : 'move' });
    });
    this.on<UdpDatagramEvent>(CHANNELS.udpDatagram, (m) => {
      this.udpDatagrams.inc({ section: m.section, direction: m.direction });
      this.udpBytes.inc({ section: m.section, direction: m.direction }, m.bytes);
    });
    this.on<OptimisticEvent>(CHANNELS.optimistic, (m) => {
      this.verdicts.set(m.server, m.verdict);
      this.verdictTotal.inc({ server: m.server, verdict: m.verdict });
    });
  }

  private pathOf(instance: string, address: string): string {
    for (const inst of this.source.instances()) {
      if (inst.key === instance) return inst.pathBySource(address) ?? address;
    }
    return address;
  }

  /** Adds what the subflows of `sock` carried since last read; returns the established ones. */
  private readSubflows(sock: net.Socket, pathOf: (address: string) => string): Array<{ path: string; rttUs?: number }> {
    let list: mptcpNative.SubflowInfo[];
    try {
      list = sock.destroyed ? [] : mptcpNative.subflows(sock);
    } catch {
      return [];
    }
    let seen = this.subflowSeen.get(sock);
    if (!seen) {
      seen = new Map();
      this.subflowSeen.set(sock, seen);
    }
    const live: Array<{ path: string; rttUs?: number }> = [];
    for (const sf of list) {
      const path = pathOf(sf.local.address);
      const prev = seen.get(sf.id) ?? { up: 0, down: 0, retrans: 0 };
      const now = { up: sf.bytesAcked ?? 0, down: sf.bytesReceived ?? 0, retrans: sf.totalRetrans ?? 0 };
      if (now.up > prev.up) this.pathBytes.inc({ path, direction: 'up' }, now.up - prev.up);
      if (now.down > prev.down) this.pathBytes.inc({ path, direction: 'down' }, now.down - prev.down);
      if (now.retrans > prev.retrans) this.pathRetrans.inc({ path }, now.retrans - prev.retrans);
      seen.set(sf.id, now);
      // TCP state 1 = ESTABLISHED
      if (sf.state === 1) live.push({ path, rttUs: sf.rttUs });
    }
    return live;
  }

  private scanPaths(): number {
    const { pathUp: up, pathRtt: rtt, pathSrtt: srtt, pathSubflows: subflows, pathConns: conns } = this;
    for (const g of [up, rtt, srtt, subflows, conns]) g.reset();
    this.pathIface.reset();
    const ifaces = readInterfaceBytes();
    const agg = new Map<string, { subflows: number; conns: number; rttSum: number; rttN: number }>();
    const entry = (p: string): { subflows: number; conns: number; rttSum: number; rttN: number } => {
      let e = agg.get(p);
      if (!e) agg.set(p, (e = { subflows: 0, conns: 0, rttSum: 0, rttN: 0 }));
      return e;
    };
    let read = 0;
    for (const inst of this.source.instances()) {
      for (const p of inst.paths()) {
        up.set({ path: p.name, source: p.source }, p.state === 'up' ? 1 : p.state === 'down' ? 0 : -1);
        if (p.rttMs !== null) rtt.set({ path: p.name }, p.rttMs / 1000);
        entry(p.name);
        const dev = p.device !== undefined ? ifaces.get(p.device) : undefined;
        if (dev && p.device !== undefined) {
          this.pathIface.inc({ path: p.name, device: p.device, direction: 'down' }, dev.rx);
          this.pathIface.inc({ path: p.name, device: p.device, direction: 'up' }, dev.tx);
        }
      }
      for (const c of inst.clients()) {
        const b = c.bytes();
        const id = `${inst.key} ${c.key}`;
        const seen = this.counted.get(id) ?? { up: 0, down: 0 };
        if (b.up > seen.up) this.bytes.inc({ instance: inst.key, direction: 'up' }, b.up - seen.up);
        if (b.down > seen.down) this.bytes.inc({ instance: inst.key, direction: 'down' }, b.down - seen.down);
        if (b.up > 0 || b.down > 0) this.counted.set(id, { up: Math.max(b.up, seen.up), down: Math.max(b.down, seen.down) });
        if (!c.upstream) continue;
        read++;
        const live = this.readSubflows(c.upstream, (a) => inst.pathBySource(a) ?? a);
        const on = new Set<string>();
        for (const sf of live) {
          const e = entry(sf.path);
          e.subflows++;
          on.add(sf.path);
          if (sf.rttUs !== undefined) {
            e.rttSum += sf.rttUs;
            e.rttN++;
          }
        }
        for (const p of on) entry(p).conns++;
      }
    }
    for (const [path, e] of agg) {
      subflows.set({ path }, e.subflows);
      conns.set({ path }, e.conns);
      if (e.rttN > 0) srtt.set({ path }, e.rttSum / e.rttN / 1e6);
    }
    return read;
  }
}
