/**
 * UDP ASSOCIATE: a client-facing UDP socket on the internal address the client
 * reached us on (within the rule's udp.portrange), a destination-facing one on the
 * external address. FRAG=0 only; datagrams only from the client's IP (and its DST port
 * when given); replies wrapped with the sender's address. The association ends with the
 * TCP control connection or after timeout.io.udp of silence.
 *
 * Each datagram's destination is resolved first and the socks-rules are matched on the
 * address it resolved to (and the name): a name never passes a rule its address would not.
 * A destination the kernel cannot send to (port 0, an unusable address) is dropped, never
 * thrown. With udp.connectdst (Dante's default) replies are accepted only from the one
 * destination the client sends to, as from a connected socket.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import {
  ProtocolError, Rep, type SocksAddress, addressFromHost, encodeUdpDatagram, parseUdpDatagram,
} from '@mptcp-proxy/common';
import { dotAddr } from '../log/dante-format';
import { vis } from '../log/vis';
import { resolveHost, type Resolved } from '../net/resolve';
import { sourceAddress } from '../net/dialer';
import type { CommandContext, CommandHandler } from './command';
import { commandAllows } from './session-policy';

const RULE_CACHE_MAX = 256;
/** Tries at random ports of a udp.portrange before giving up (then every port is tried in order). */
const PORTRANGE_RANDOM_TRIES = 16;

type Endpoint = { ip: string; port: number };

export class UdpAssociateHandler implements CommandHandler {
  private inner: dgram.Socket | undefined;
  private outer = new Map<4 | 6, dgram.Socket>();
  private clientUdp: { address: string; port: number } | undefined;
  private toDest = 0;
  private fromDest = 0;
  private local = '0.0.0.0.0';
  private readonly verdicts = new Map<string, boolean>();
  /** udp.connectdst: the one destination sent to so far; null once there were several. */
  private sole: Endpoint | null | undefined;

  constructor(private readonly ctx: CommandContext) {}

  start(): void {
    const { request: req, rule, session: s } = this.ctx;
    s.connectDone();
    s.takeEarly(); // TCP bytes after the request mean nothing here
    // A specific DST in the request pins the client's UDP source.
    const a = req.address;
    if (a.type !== 'domain' && a.port !== 0 && a.host !== '0.0.0.0' && a.host !== '::') {
      this.clientUdp = { address: a.host, port: a.port };
    }
    const range = rule.udpPortRange;
    this.bindInner(range ? portCandidates(range.from, range.to) : [0]);
  }

  /** Binds the client-facing socket to the first free port of `ports`. */
  private bindInner(ports: number[]): void {
    const { peer, session: s } = this.ctx;
    const port = ports.shift() ?? 0;
    const sock = dgram.createSocket({ type: net.isIP(peer.localAddress) === 6 ? 'udp6' : 'udp4' });
    this.inner = sock;
    let bound = false;
    sock.on('error', s.guard((err: NodeJS.ErrnoException) => {
      if (bound) {
        s.close(`udp socket error (${err.code ?? err.message})`);
        return;
      }
      sock.close();
      if (err.code === 'EADDRINUSE' && ports.length > 0) this.bindInner(ports);
      else s.failErrno(err.code, 'could not bind the UDP relay socket');
    }));
    sock.on('message', s.guard((msg: Buffer, rinfo: dgram.RemoteInfo) => this.fromClient(msg, rinfo)));
    sock.bind({ address: peer.localAddress, port }, s.guard(() => {
      bound = true;
      if (s.closed) return;
      const b = sock.address();
      this.local = dotAddr(b.address, b.port);
      s.reply(Rep.Succeeded, addressFromHost(b.address, b.port));
      s.logOpen(this.local, 'udp');
      this.touch();
    }));
  }

  private touch(): void {
    this.ctx.session.idleIn(this.ctx.ioMs);
  }

  /** socks-rules for one datagram's peer: `ip` is an address; `name` the hostname it came from, if any. */
  private allowed(command: 'udpassociate' | 'udpreply', ip: string, port: number, name?: string): boolean {
    const key = `${command} ${ip} ${port} ${name ?? ''}`;
    const hit = this.verdicts.get(key);
    if (hit !== undefined) return hit;
    const pass = commandAllows(this.ctx, command, { host: name ?? ip, port }, name !== undefined ? [ip] : undefined);
    if (this.verdicts.size >= RULE_CACHE_MAX) this.verdicts.clear();
    this.verdicts.set(key, pass);
    return pass;
  }

  private fromClient(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const { rt, peer, session: s } = this.ctx;
    if (s.closed || rinfo.address !== peer.clientAddress) return;
    if (this.clientUdp === undefined) this.clientUdp = { address: rinfo.address, port: rinfo.port };
    else if (this.clientUdp.port !== rinfo.port || this.clientUdp.address !== rinfo.address) return;
    let d;
    try {
      d = parseUdpDatagram(msg);
    } catch (e) {
      if (e instanceof ProtocolError) {
        s.debug(`udp datagram dropped: ${e.message}`);
        return;
      }
      throw e;
    }
    if (d.frag !== 0) return; // no reassembly: drop fragments
    this.touch();
    const data = d.data;
    const dest = d.address;
    if (dest.port === 0) {
      s.debug(`udp datagram to ${vis(dest.host)} port 0 dropped`);
      return;
    }
    if (dest.type !== 'domain') {
      this.forward({ address: dest.host, family: dest.type === 'ipv6' ? 6 : 4 }, dest.port, data);
      return;
    }
    resolveHost(dest.host, rt.connectMs).then(
      s.guard((r: Resolved) => this.forward(r, dest.port, data, dest.host)),
      s.guard((err: Error) => s.debug(`udp datagram to ${vis(dest.host)} dropped: ${vis(err.message)}`)),
    );
  }

  /** The rules on the resolved address, then the send; nothing here may throw. */
  private forward(to: Resolved, port: number, data: Buffer, name?: string): void {
    const s = this.ctx.session;
    if (s.closed) return;
    if (!this.allowed('udpassociate', to.address, port, name)) return;
    if (this.sole === undefined) this.sole = { ip: to.address, port };
    else if (this.sole !== null && (this.sole.ip !== to.address || this.sole.port !== port)) this.sole = null;
    this.toDest += data.length;
    this.outerFor(to.family).send(data, port, to.address, (err) => {
      if (err) s.debug(`udp send to ${dotAddr(to.address, port)} failed: ${err.message}`);
    });
  }

  private outerFor(family: 4 | 6): dgram.Socket {
    let sock = this.outer.get(family);
    if (sock !== undefined) return sock;
    const { rt, peer, session: s } = this.ctx;
    sock = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
    const src = sourceAddress(rt, { ip: '', family, port: 0, clientLocal: peer.localAddress });
    sock.bind({ address: src, port: 0 });
    sock.on('error', s.guard((err: Error) => s.debug(`udp socket error: ${err.message}`)));
    sock.on('message', s.guard((msg: Buffer, rinfo: dgram.RemoteInfo) => this.fromRemote(msg, rinfo)));
    this.outer.set(family, sock);
    return sock;
  }

  private fromRemote(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const c = this.clientUdp;
    const inner = this.inner;
    if (this.ctx.session.closed || c === undefined || inner === undefined) return;
    // udp.connectdst: a connected socket hears only from its one destination.
    const one = this.sole;
    if (this.ctx.rt.config.udpConnectDst && one && (one.ip !== rinfo.address || one.port !== rinfo.port)) return;
    if (!this.allowed('udpreply', rinfo.address, rinfo.port)) return;
    this.touch();
    this.fromDest += msg.length;
    const from: SocksAddress = addressFromHost(rinfo.address, rinfo.port);
    inner.send(encodeUdpDatagram(from, msg), c.port, c.address, (err) => {
      if (err) this.ctx.session.debug(`udp send to the client failed: ${err.message}`);
    });
  }

  onClientData(): void {
    // Nothing is expected on the control connection.
  }

  onClientEnd(): void {
    this.ctx.session.close('local client closed');
  }

  counts(): { toDest: number; fromDest: number; local: string } {
    return { toDest: this.toDest, fromDest: this.fromDest, local: this.local };
  }

  dispose(): void {
    this.inner?.close();
    this.inner = undefined;
    for (const sock of this.outer.values()) sock.close();
    this.outer.clear();
  }
}

/** udp.portrange ports to try: some at random, then the whole range from a random start. */
function portCandidates(from: number, to: number): number[] {
  const n = to - from + 1;
  const out: number[] = [];
  for (let i = 0; i < Math.min(PORTRANGE_RANDOM_TRIES, n); i++) out.push(from + Math.floor(Math.random() * n));
  const start = Math.floor(Math.random() * n);
  for (let i = 0; i < n; i++) out.push(from + ((start + i) % n));
  return out;
}
