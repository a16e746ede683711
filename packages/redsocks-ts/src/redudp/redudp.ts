/**
 * One running `redudp {}` section (redsocks 0.5's redudp.c, docs/redudp.md).
 *
 * - `dest_ip` unset or 0.0.0.0: TPROXY mode. The listener (IP_TRANSPARENT,
 *   IP_RECVORIGDSTADDR) gets each LAN datagram with its original destination; replies go to
 *   the client from a transparent socket bound to that destination, shared by the flows that
 *   talk to it (redsocks' bound_udp4).
 * - `dest_ip` set: every datagram goes to dest_ip:dest_port; replies leave from the listener.
 *
 * Each flow has its own UDP ASSOCIATE (association.ts). Until the server has answered, at
 * most 5 datagrams wait (redsocks' fixed max_pktqueue); a flow silent for `udp_timeout`
 * seconds in both directions is dropped. Unlike redsocks 0.5, a flow is one client address
 * AND one destination (redsocks keys flows by the client alone and sends everything a
 * client sends to its first destination).
 *
 * Not in redsocks: the association's control connection is MPTCP through the section's
 * dialer, the datagrams leave on the WAN path of its initial subflow, and when the path
 * health says that path went down, every flow on it opens a new association on the best
 * live path and moves there (its datagrams wait meanwhile). A flow whose datagrams stop
 * being answered makes the path health probe its path at once; if it was answered until
 * just before (a live call or game, not an idle keepalive), it does not wait for the probes'
 * verdict: it opens an association at once, which the dialer puts on another path (the
 * stalled one is suspect), and moves there, unless its own path answers again first or no
 * other path is up.
 * Flow events are published on diagnostics_channel `redsocks-ts:udp` (UdpFlowEvent), each datagram
 * on `redsocks-ts:udp:datagram` (UdpDatagramEvent; events.ts).
 */
import { UdpSocket, type UdpMessageInfo } from 'mptcp-native';
import type { BaseSection, RedudpSection } from '../config/types';
import { createDialer, dialLog, type Dialer, type PathView } from '../dial';
import type { RedsocksLog } from '../log/redsocks-log';
import { UdpAssociation } from './association';
import { udpChannel, udpDatagramChannel, type UdpFlowEvent } from '../events';

/** redsocks' fixed redudp max_pktqueue. */
export const MAX_PKTQUEUE = 5;
/** A flow whose datagrams went unanswered this long (and at least 3 of them) suspects its path. */
const STALL_MS = 300;
const STALL_SENDS = 3;
/** A stalled flow answered this recently before its answers stopped moves without waiting for the probes. */
const LIVE_FLOW_MS = 2000;
const WHERE = 'redudp.c:0 redudp_pkt_from_client(...)';

interface Endpoint {
  address: string;
  port: number;
}

const fmt = (e: Endpoint): string => (e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`);

class Flow {
  assoc: UdpAssociation | undefined;
  /** A replacement being opened (a path move) or the first association. */
  pending: Promise<void> | undefined;
  queue: Buffer[] = [];
  timer: NodeJS.Timeout | undefined;
  readonly first = Date.now();
  lastClient = Date.now();
  lastRelay = 0;
  /** Sends since the last answer (the stall signal). */
  unanswered = 0;
  firstUnanswered = 0;
  closed = false;

  constructor(readonly client: Endpoint, readonly dest: Endpoint) {}

  get prefix(): string {
    return `[${fmt(this.client)}->${fmt(this.dest)}]: `;
  }
}

export class Redudp {
  readonly dialer: Dialer;
  private listener: UdpSocket | undefined;
  private readonly flows = new Map<string, Flow>();
  /** Transparent sockets bound to a destination, shared by every flow that talks to it. */
  private readonly senders = new Map<string, UdpSocket>();
  private closed = false;
  /** Flows moved to another path, and associations opened (tests, the dump). */
  moves = 0;
  associations = 0;

  constructor(readonly cfg: RedudpSection, base: BaseSection, private readonly log: RedsocksLog) {
    this.dialer = createDialer(cfg, base, { log: dialLog(log) });
    this.dialer.health?.on('change', (ev: { path: PathView }) => {
      if (!ev.path.up) this.leavePath(ev.path.name, `path ${ev.path.name} is down`);
    });
  }

  get tproxy(): boolean {
    return this.cfg.destIp === '0.0.0.0' || this.cfg.destIp === '::';
  }

  get key(): string {
    return `${this.cfg.localIp}:${this.cfg.localPort}`;
  }

  get port(): number {
    return this.listener?.address().port ?? 0;
  }

  get flowCount(): number {
    return this.flows.size;
  }

  async listen(): Promise<void> {
    const { localIp, localPort } = this.cfg;
    this.listener = UdpSocket.open({ address: localIp, port: localPort, transparent: this.tproxy, origDst: this.tproxy });
    this.listener.on('message', (data: Buffer, info: UdpMessageInfo) => this.fromClient(data, info));
    const mode = this.tproxy ? 'TPROXY' : `destaddr=${this.cfg.destIp}:${this.cfg.destPort}`;
    this.log.debug(`redudp @ ${localIp}:${this.port}: ${mode}`, 'redudp.c:0 redudp_init_instance(...)');
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.flows.size > 0) this.log.warning('There are connected clients during shutdown! Disconnecting them.', 'redudp.c:0 redudp_fini_instance(...)');
    for (const f of [...this.flows.values()]) this.drop(f, 'shutdown');
    this.listener?.close();
    this.listener = undefined;
    for (const s of this.senders.values()) s.close();
    this.senders.clear();
    this.dialer.close();
  }

  private publish(ev: Omit<UdpFlowEvent, 'section'>): void {
    if (udpChannel.hasSubscribers) udpChannel.publish({ section: this.key, ...ev });
  }

  private datagram(direction: 'up' | 'down', bytes: number): void {
    if (udpDatagramChannel.hasSubscribers) udpDatagramChannel.publish({ section: this.key, direction, bytes });
  }

  private fromClient(data: Buffer, info: UdpMessageInfo): void {
    if (this.closed) return;
    const dest = this.tproxy ? info.to : { address: this.cfg.destIp, port: this.cfg.destPort };
    if (!dest) return; // TPROXY without an original destination: not ours
    const key = `${fmt(info.from)}|${fmt(dest)}`;
    let f = this.flows.get(key);
    if (!f) {
      f = new Flow({ address: info.from.address, port: info.from.port }, { address: dest.address, port: dest.port });
      this.flows.set(key, f);
      this.log.info(`${f.prefix}got 1st packet from client`, WHERE);
      this.publish({ event: 'open', client: fmt(f.client), dest: fmt(f.dest) });
      this.associate(f);
    }
    f.lastClient = Date.now();
    this.bump(f);
    if (f.assoc && !f.assoc.isClosed && f.pending === undefined) this.forward(f, data);
    else this.enqueue(f, data);
  }

  private forward(f: Flow, data: Buffer): void {
    if (!f.assoc!.send(data)) {
      this.log.warning(`${f.prefix}sendmsg: Can't forward packet, dropping it`, WHERE);
      return;
    }
    this.datagram('up', data.length);
    if (f.unanswered++ === 0) f.firstUnanswered = Date.now();
    this.checkStall(f);
  }

  private enqueue(f: Flow, data: Buffer): void {
    if (f.queue.length >= MAX_PKTQUEUE) {
      this.log.warning(`${f.prefix}There are already ${f.queue.length} packets in queue. Dropping.`, WHERE);
      return;
    }
    f.queue.push(data);
  }

  /**
   * Opens an association for the flow (its first, or a replacement on another path). With
   * `stalled` (a path whose answers stopped), the new one is kept only if it is on another path
   * and the old one has still not answered; else the flow stays where it is.
   */
  private associate(f: Flow, leaving?: string, stalled?: string): void {
    const started = Date.now();
    f.pending = (async () => {
      let assoc: UdpAssociation;
      try {
        assoc = await UdpAssociation.open({ dialer: this.dialer, login: this.cfg.login, password: this.cfg.password, dest: f.dest });
      } catch (err) {
        f.pending = undefined;
        this.log.notice(`${f.prefix}${(err as Error).message}`, WHERE);
        if (stalled !== undefined && f.assoc && !f.assoc.isClosed) this.flush(f);
        else this.drop(f, (err as Error).message);
        return;
      }
      f.pending = undefined;
      if (f.closed || this.closed) {
        assoc.close();
        return;
      }
      if (stalled !== undefined && f.assoc && !f.assoc.isClosed && (assoc.path === stalled || f.unanswered === 0)) {
        // no other path is up, or the old path answered meanwhile: stay
        assoc.close();
        this.flush(f);
        return;
      }
      this.associations++;
      const old = f.assoc;
      f.assoc = assoc;
      f.unanswered = 0;
      assoc.on('data', (payload: Buffer) => this.fromRelay(f, assoc, payload));
      assoc.on('unexpected', (what: string) => this.log.notice(`${f.prefix}${what}`, WHERE));
      assoc.once('close', () => {
        if (f.assoc === assoc && !f.closed) {
          this.log.notice(`${f.prefix}redudp_relay_error`, 'redudp.c:0 redudp_relay_error(...)');
          this.drop(f, 'the control connection closed');
        }
      });
      if (old) {
        old.close();
        this.moves++;
        this.log.notice(`${f.prefix}moved to path ${assoc.path ?? '?'} (${assoc.source}) in ${Date.now() - started} ms: ${leaving}`, WHERE);
        this.publish({ event: 'move', client: fmt(f.client), dest: fmt(f.dest), path: assoc.path, reason: leaving });
      } else {
        this.log.info(`${f.prefix}Starting UDP relay`, 'redudp.c:0 redudp_flush_queue(...)');
        this.publish({ event: 'ready', client: fmt(f.client), dest: fmt(f.dest), path: assoc.path });
      }
      this.flush(f);
    })();
  }

  /** Sends what waited while an association was being opened. */
  private flush(f: Flow): void {
    for (const d of f.queue.splice(0)) this.forward(f, d);
  }

  /** Every flow on `path` opens a new association (on the best live path) and moves there. */
  private leavePath(path: string, why: string): void {
    for (const f of this.flows.values()) {
      if (f.closed || f.pending !== undefined || f.assoc?.path !== path) continue;
      this.associate(f, why);
    }
  }

  /** A flow whose datagrams stopped being answered: let the path health probe its path now. */
  private checkStall(f: Flow): void {
    const a = f.assoc;
    if (!a?.path || !this.dialer.health || f.unanswered < STALL_SENDS || a.received === 0) return;
    const rtt = this.dialer.paths().find((p) => p.name === a.path)?.rttMs ?? 0;
    const waited = Date.now() - f.firstUnanswered;
    if (waited < Math.max(STALL_MS, 3 * rtt)) return;
    const why = `a UDP flow ${fmt(f.client)}->${fmt(f.dest)} got no answer for ${waited} ms`;
    this.dialer.health.reportStall(a.path, why);
    const live = this.dialer.paths().some((p) => p.up && p.name !== a.path);
    if (live && f.pending === undefined && f.lastRelay >= f.firstUnanswered - LIVE_FLOW_MS) this.associate(f, `no answer for ${waited} ms on path ${a.path}`, a.path);
  }

  private fromRelay(f: Flow, assoc: UdpAssociation, payload: Buffer): void {
    if (f.closed || f.assoc !== assoc) return;
    f.lastRelay = Date.now();
    f.unanswered = 0;
    this.bump(f);
    this.datagram('down', payload.length);
    try {
      if (this.tproxy) this.senderFor(f.dest).send(payload, f.client.address, f.client.port);
      else this.listener?.send(payload, f.client.address, f.client.port);
    } catch (err) {
      this.log.warning(`${f.prefix}sendto: ${(err as Error).message}`, 'redudp.c:0 redudp_pkt_from_socks(...)');
    }
  }

  /** redsocks' bound_udp4_get: a transparent socket bound to the destination, shared by its flows. */
  private senderFor(dest: Endpoint): UdpSocket {
    const key = fmt(dest);
    let s = this.senders.get(key);
    if (!s) {
      s = UdpSocket.open({ address: dest.address, port: dest.port, transparent: true, reuseAddr: true });
      this.senders.set(key, s);
    }
    return s;
  }

  private bump(f: Flow): void {
    if (f.timer) clearTimeout(f.timer);
    f.timer = setTimeout(() => {
      const t = (ms: number): number => Math.floor(ms / 1000);
      this.log.info(`${f.prefix}Client timeout. First: ${t(f.first)}, last_client: ${t(f.lastClient)}, last_relay: ${t(f.lastRelay)}.`, 'redudp.c:0 redudp_timeout(...)');
      this.drop(f, 'timeout');
    }, this.cfg.udpTimeout * 1000);
    f.timer.unref();
  }

  private drop(f: Flow, reason: string): void {
    if (f.closed) return;
    f.closed = true;
    this.log.info(`${f.prefix}Dropping...`, 'redudp.c:0 redudp_drop_client(...)');
    if (f.timer) clearTimeout(f.timer);
    f.assoc?.close();
    f.queue = [];
    this.flows.delete(`${fmt(f.client)}|${fmt(f.dest)}`);
    this.releaseSender(f.dest);
    this.publish({ event: 'close', client: fmt(f.client), dest: fmt(f.dest), path: f.assoc?.path, reason });
  }

  private releaseSender(dest: Endpoint): void {
    const key = fmt(dest);
    const s = this.senders.get(key);
    if (!s) return;
    // no flow to this destination left: its socket goes (redsocks' bound_udp4_put)
    for (const f of this.flows.values()) if (fmt(f.dest) === key) return;
    s.close();
    this.senders.delete(key);
  }
}
