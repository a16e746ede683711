/**
 * One running `dns {}` section (docs/dns.md): the LAN's DNS forwarder. It answers on UDP and
 * TCP at local_ip:local_port and sends each query, as DNS over TCP, through the section's
 * SOCKS5 tunnels (tunnel-pool.ts) to resolver_ip:resolver_port. The tunnels ride the
 * section's MPTCP dialer, so DNS survives either ISP.
 *
 * What a resolver's clients expect (RFC 1035, 6891, 7766):
 * - a UDP answer larger than the client accepts (its EDNS size capped at `udp_size`, or 512
 *   without EDNS) goes back truncated (TC, question and OPT only); the client asks again over TCP;
 * - over TCP, queries may be pipelined and are answered as their answers arrive;
 * - EDNS and the DO/CD bits go to the resolver as sent; the cache keys on them;
 * - a query that cannot be read gets FORMERR; one that the tunnel cannot answer in
 *   `query_timeout` gets SERVFAIL.
 * Each query is published on diagnostics_channel `redsocks-ts:dns` (DnsQueryEvent, events.ts).
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { ReceiveBuffer, errorCode } from '@mptcp-proxy/common';
import type { BaseSection, DnsSection } from '../config/types';
import { createDialer, dialLog, type Dialer } from '../dial';
import type { RedsocksLog } from '../log/redsocks-log';
import { DnsCache } from './cache';
import { frame, parseFramed } from './framing';
import { CLASSIC_UDP_SIZE, Rcode, errorAnswer, ednsOf, parseHeader, parseQuestion, truncated } from './message';
import { HEDGE_MS, TunnelPool } from './tunnel-pool';
import { DnsTunnel } from './tunnel';
import { dnsChannel, type DnsQueryEvent } from '../events';

/** A LAN TCP client idle this long (no query outstanding) is closed (RFC 7766 §6.2.3). */
const TCP_IDLE_MS = 10_000;
const WHERE = 'dns.c:0 dns_forward(...)';
const MIN_HEDGE_MS = 250;

export class DnsForwarder {
  readonly dialer: Dialer;
  readonly pool: TunnelPool;
  readonly cache: DnsCache;
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  private readonly tcpClients = new Set<net.Socket>();
  private closed = false;

  constructor(readonly cfg: DnsSection, base: BaseSection, private readonly log: RedsocksLog) {
    this.dialer = createDialer(cfg, base, { log: dialLog(log) });
    this.cache = new DnsCache(cfg.cacheSize);
    const plog = { info: (m: string) => log.notice(m, WHERE), error: (m: string) => log.error(m, WHERE) };
    this.pool = new TunnelPool({
      size: cfg.connections,
      open: () =>
        DnsTunnel.open({
          dial: () => this.dialer.dial({ pooled: false }),
          login: cfg.login,
          password: cfg.password,
          resolver: { address: cfg.resolverIp, port: cfg.resolverPort },
          maxInflight: cfg.maxInflight,
        }),
      log: plog,
      hedgeMs: () => this.hedgeDelay(),
    });
    this.dialer.health?.on('change', (ev: { path: { name: string; state: string }; previous: string }) => {
      if (ev.previous === 'unknown' && ev.path.state === 'up') return;
      this.pool.refresh(`path ${ev.path.name} is ${ev.path.state}`);
    });
  }

  get key(): string {
    return `${this.cfg.localIp}:${this.cfg.localPort}`;
  }

  /** The bound UDP port (local_port = 0 gets an ephemeral one, the same for TCP). */
  get port(): number {
    return this.udp?.address().port ?? 0;
  }

  async listen(): Promise<void> {
    const host = this.cfg.localIp;
    const udp = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address: host, port: this.cfg.localPort }, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', (err) => this.log.warning(`dns udp: ${err.message}`, WHERE));
    udp.on('message', (msg, rinfo) => void this.onUdp(msg, rinfo));
    this.udp = udp;
    const tcp = net.createServer((s) => this.onTcp(s));
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host, port: udp.address().port }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      this.udp = undefined;
      throw err;
    }
    tcp.on('error', (err) => this.log.warning(`dns tcp: ${err.message}`, WHERE));
    this.tcp = tcp;
    this.pool.start();
  }

  /** The answer to one query as it goes back to a client of `transport`. */
  async answer(query: Buffer, client: string, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    const t0 = process.hrtime.bigint();
    const ev: DnsQueryEvent = { section: this.key, client, transport, outcome: 'answered', cached: false, truncated: false, ms: 0 };
    let out: Buffer | undefined;
    try {
      let header;
      try {
        header = parseHeader(query);
      } catch {
        ev.error = 'shorter than a DNS header';
        ev.outcome = 'ignored';
        return undefined; // nothing to answer to
      }
      if (header.qr) {
        ev.error = 'a response, not a query';
        ev.outcome = 'ignored';
        return undefined;
      }
      try {
        const q = parseQuestion(query);
        ev.name = q.name;
        ev.type = q.type;
      } catch (err) {
        ev.error = (err as Error).message;
        ev.outcome = 'formerr';
        out = errorAnswer(query, Rcode.FormErr);
        return out;
      }
      let answer = this.cache.get(query);
      if (answer) ev.cached = true;
      else {
        try {
          answer = await this.pool.query(query, Date.now() + this.cfg.queryTimeout);
        } catch (err) {
          ev.error = `${errorCode(err) ?? 'error'}: ${(err as Error).message}`;
          ev.outcome = 'servfail';
          out = errorAnswer(query, Rcode.ServFail);
          return out;
        }
        try {
          this.cache.put(query, answer);
        } catch {
          // an answer we cannot parse is passed on, not cached
        }
      }
      out = answer;
      if (transport === 'udp' && answer.length > this.udpLimit(query)) {
        try {
          out = truncated(answer);
          ev.truncated = true;
        } catch {
          out = errorAnswer(query, Rcode.ServFail);
        }
      }
      return out;
    } finally {
      ev.ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (out && out.length >= 4) ev.rcode = out[3] & 0x0f;
      if (dnsChannel.hasSubscribers) dnsChannel.publish(ev);
      if (this.log.enabled('debug')) {
        const what = ev.name ? `${ev.name} type ${ev.type}` : 'query';
        this.log.debug(`[${client}->${this.key}]: ${transport} ${what}: ${ev.error ?? `rcode ${ev.rcode}`}${ev.cached ? ', cached' : ''}${ev.truncated ? ', truncated' : ''}, ${ev.ms.toFixed(1)} ms`, WHERE);
      }
    }
  }

  /**
   * A query is also sent on a second tunnel after 4 x the slowest live path's connect RTT (at
   * least 250 ms): long enough for a normal answer, short enough to beat MPTCP's own recovery
   * from a dead subflow (its RTOs, then the stale mark). HEDGE_MS without RTT samples.
   */
  private hedgeDelay(): number {
    const rtts = this.dialer.paths().filter((p) => p.up && p.rttMs !== null).map((p) => p.rttMs!);
    return rtts.length === 0 ? HEDGE_MS : Math.max(MIN_HEDGE_MS, Math.ceil(4 * Math.max(...rtts)));
  }

  /** RFC 6891 §6.2.5: the client's EDNS size capped by ours; 512 without EDNS. */
  private udpLimit(query: Buffer): number {
    let edns;
    try {
      edns = ednsOf(query);
    } catch {
      return CLASSIC_UDP_SIZE;
    }
    return edns ? Math.min(edns.udpSize, Math.max(CLASSIC_UDP_SIZE, this.cfg.udpSize)) : CLASSIC_UDP_SIZE;
  }

  private async onUdp(msg: Buffer, rinfo: dgram.RemoteInfo): Promise<void> {
    const out = await this.answer(msg, `${rinfo.address}:${rinfo.port}`, 'udp');
    if (!out || !this.udp || this.closed) return;
    this.udp.send(out, rinfo.port, rinfo.address, (err) => {
      if (err) this.log.info(`[${rinfo.address}:${rinfo.port}->${this.key}]: dns udp send: ${err.message}`, WHERE);
    });
  }

  private onTcp(s: net.Socket): void {
    s.on('error', () => undefined);
    if (this.closed) {
      s.destroy();
      return;
    }
    this.tcpClients.add(s);
    s.once('close', () => this.tcpClients.delete(s));
    const client = `${s.remoteAddress}:${s.remotePort}`;
    const reader = new ReceiveBuffer(s);
    let outstanding = 0;
    let ended = false;
    s.setTimeout(TCP_IDLE_MS, () => {
      if (outstanding === 0) s.destroy();
    });
    const maybeEnd = (): void => {
      if (ended && outstanding === 0) s.end();
    };
    void (async () => {
      try {
        for (;;) {
          const { message } = await reader.read(parseFramed, { maxBytes: 65537 });
          outstanding++;
          void this.answer(message, client, 'tcp').then((out) => {
            outstanding--;
            if (out && !s.destroyed) s.write(frame(out));
            maybeEnd();
          });
        }
      } catch {
        // EOF (the client is done sending) or an error: answer what is outstanding, then close
        ended = true;
        maybeEnd();
      }
    })();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.udp?.close();
    this.udp = undefined;
    this.tcp?.close();
    this.tcp = undefined;
    for (const s of this.tcpClients) s.destroy();
    this.pool.close();
    this.dialer.close();
  }
}
