/**
 * socks-server's metrics (docs/metrics.md): prom-client series fed by the per-connection events
 * of events.ts, plus the live sessions' relayed bytes read at scrape time. Exists only with
 * `extension.metrics`: with metrics off nothing subscribes and no event is built.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import { EventMetrics } from '@mptcp-proxy/common';
import {
  CHANNELS,
  type ConnClosed,
  type ConnNegotiated,
  type ConnRefused,
  type OptimisticEvent,
} from './events';

/** What a scrape reads from the running server: the live sessions and their relayed bytes. */
export interface ServerMetricsSource {
  sessions(): Iterable<{ ref(): { client: string }; counts(): { toDest: number; fromDest: number } }>;
}

const NEGOTIATE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ServerMetrics extends EventMetrics {
  /** Bytes of each live session already counted; the rest is counted at the next scrape or at close. */
  private readonly counted = new Map<string, { in: number; out: number }>();

  private readonly active = new Gauge({ name: 'socks_server_connections_active', help: 'Client connections open now (past the client-rules)', registers: [this.registry] });
  private readonly total = new Counter({ name: 'socks_server_connections', help: 'Client connections accepted (past the client-rules)', registers: [this.registry] });
  private readonly refused = new Counter({ name: 'socks_server_connections_refused', help: 'Connections closed at accept, by stage (client rule, srchost, session limit)', labelNames: ['stage'], registers: [this.registry] });
  private readonly closed = new Counter({
    name: 'socks_server_connections_closed',
    help: 'Sessions closed, by outcome (ok, blocked, failed, negotiation, error) and code',
    labelNames: ['outcome', 'code'],
    registers: [this.registry],
  });
  private readonly bytes = new Counter({ name: 'socks_server_bytes', help: 'Bytes relayed, in = client to destination', labelNames: ['direction'], registers: [this.registry] });
  private readonly negotiate = new Histogram({
    name: 'socks_server_handshake_seconds',
    help: 'From accept to the request passing the socks-rules (greeting, auth, request)',
    labelNames: ['method', 'optimistic'],
    buckets: NEGOTIATE_BUCKETS,
    registers: [this.registry],
  });
  private readonly optimistic = new Counter({ name: 'socks_server_optimistic_verdicts', help: 'Clients that offered optimistic connect, by this server\'s answer', labelNames: ['verdict'], registers: [this.registry] });

  constructor(private readonly source: ServerMetricsSource) {
    super();
    const self = this;
    new Gauge({
      name: 'socks_server_scrape_sessions',
      help: 'Live sessions this scrape read',
      registers: [this.registry],
      collect() {
        this.set(self.countLive());
      },
    });
    this.on(CHANNELS.accepted, () => {
      this.active.inc();
      this.total.inc();
    });
    this.on<ConnRefused>(CHANNELS.refused, (m) => this.refused.inc({ stage: m.stage }));
    this.on<ConnNegotiated>(CHANNELS.negotiated, (m) => this.negotiate.observe({ method: m.method, optimistic: String(m.optimistic) }, m.ms / 1000));
    this.on<ConnClosed>(CHANNELS.closed, (m) => {
      this.active.dec();
      this.closed.inc({ outcome: m.outcome, code: m.code ?? '' });
      const seen = this.counted.get(m.client);
      this.counted.delete(m.client);
      this.bytes.inc({ direction: 'in' }, Math.max(0, m.bytesIn - (seen?.in ?? 0)));
      this.bytes.inc({ direction: 'out' }, Math.max(0, m.bytesOut - (seen?.out ?? 0)));
    });
    this.on<OptimisticEvent>(CHANNELS.optimistic, (m) => this.optimistic.inc({ verdict: m.verdict }));
  }

  private countLive(): number {
    let n = 0;
    for (const s of this.source.sessions()) {
      n++;
      const c = s.counts();
      const id = s.ref().client;
      const seen = this.counted.get(id) ?? { in: 0, out: 0 };
      if (c.toDest > seen.in) this.bytes.inc({ direction: 'in' }, c.toDest - seen.in);
      if (c.fromDest > seen.out) this.bytes.inc({ direction: 'out' }, c.fromDest - seen.out);
      if (c.toDest > 0 || c.fromDest > 0) this.counted.set(id, { in: Math.max(c.toDest, seen.in), out: Math.max(c.fromDest, seen.out) });
    }
    return n;
  }
}
