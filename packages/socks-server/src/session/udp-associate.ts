/**
 * UDP ASSOCIATE: a client-facing UDP socket on the internal address the client
 * reached us on, a destination-facing one on the external address. FRAG=0
 * only; datagrams only from the client's IP (and its DST port when given);
 * replies wrapped with the sender's address. The association ends with the
 * TCP control connection or after timeout.io.udp of silence.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import {
  ProtocolError, Rep, SocksAddress, addressFromHost, encodeUdpDatagram, parseUdpDatagram,
} from '@mptcp-proxy/common';
import type { MatchContext } from '../config';
import { matchRule } from '../config';
import { dotAddr } from '../log/dante-format';
import { resolveHost } from '../net/resolve';
import { sourceAddress } from '../net/dialer';
import { Phase, type CommandHandler, type Session } from './session';

const RULE_CACHE_MAX = 256;

export class UdpAssociateHandler implements CommandHandler {
  private inner: dgram.Socket | undefined;
  private outer = new Map<4 | 6, dgram.Socket>();
  private clientUdp: { address: string; port: number } | undefined;
  private toDest = 0;
  private fromDest = 0;
  private local = '0.0.0.0.0';
  private readonly verdicts = new Map<string, boolean>();

  constructor(private readonly s: Session) {}

  start(): void {
    const s = this.s;
    s.connectDone();
    s.takeEarly(); // TCP bytes after the request mean nothing here
    const req = s.request!;
    // A specific DST in the request pins the client's UDP source.
    const a = req.address;
    if (a.type !== 'domain' && a.port !== 0 && a.host !== '0.0.0.0' && a.host !== '::') {
      this.clientUdp = { address: a.host, port: a.port };
    }
    const fam = net.isIP(s.localAddress) === 6 ? 'udp6' : 'udp4';
    const sock = dgram.createSocket({ type: fam });
    this.inner = sock;
    sock.on('error', () => s.close('udp socket error'));
    sock.on('message', (msg, rinfo) => this.fromClient(msg, rinfo));
    sock.bind({ address: s.localAddress, port: 0 }, () => {
      if (s.phase !== Phase.Udp) return;
      const b = sock.address();
      this.local = dotAddr(b.address, b.port);
      s.reply(Rep.Succeeded, addressFromHost(b.address, b.port));
      s.logOpen(this.local, 'udp');
      this.touch();
    });
  }

  private touch(): void {
    const s = this.s;
    s.deadline = s.ioMs > 0 ? Date.now() + s.ioMs : 0;
  }

  private allowed(command: 'udpassociate' | 'udpreply', host: string, port: number): boolean {
    const key = `${command} ${host} ${port}`;
    const hit = this.verdicts.get(key);
    if (hit !== undefined) return hit;
    const s = this.s;
    const ctx: MatchContext = {
      clientAddress: s.clientAddress, clientPort: s.clientPort,
      serverAddress: s.localAddress, serverPort: s.localPort,
      command, protocol: 'udp', proxyProtocol: 'socks_v5', method: s.method, user: s.user,
      dest: { host, port },
    };
    const pass = matchRule(s.rt.config.socksRules, ctx).pass;
    if (this.verdicts.size >= RULE_CACHE_MAX) this.verdicts.clear();
    this.verdicts.set(key, pass);
    return pass;
  }

  private fromClient(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const s = this.s;
    if (s.phase !== Phase.Udp || rinfo.address !== s.clientAddress) return;
    if (this.clientUdp === undefined) this.clientUdp = { address: rinfo.address, port: rinfo.port };
    else if (this.clientUdp.port !== rinfo.port || this.clientUdp.address !== rinfo.address) return;
    let d;
    try {
      d = parseUdpDatagram(msg);
    } catch (e) {
      if (e instanceof ProtocolError) return;
      throw e;
    }
    if (d.frag !== 0) return; // no reassembly: drop fragments
    this.touch();
    const data = d.data;
    const dest = d.address;
    if (!this.allowed('udpassociate', dest.host, dest.port)) return;
    if (dest.type === 'domain') {
      resolveHost(dest.host, s.rt.connectMs).then(
        (r) => this.send(r.address, r.family, dest.port, data),
        () => undefined,
      );
    } else this.send(dest.host, dest.type === 'ipv6' ? 6 : 4, dest.port, data);
  }

  private outerFor(family: 4 | 6): dgram.Socket {
    let sock = this.outer.get(family);
    if (sock !== undefined) return sock;
    const s = this.s;
    sock = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
    const src = sourceAddress(s.rt, { ip: '', family, port: 0, clientLocal: s.localAddress });
    sock.bind({ address: src, port: 0 });
    sock.on('error', () => undefined);
    sock.on('message', (msg, rinfo) => this.fromRemote(msg, rinfo));
    this.outer.set(family, sock);
    return sock;
  }

  private send(ip: string, family: 4 | 6, port: number, data: Buffer): void {
    if (this.s.phase !== Phase.Udp) return;
    this.toDest += data.length;
    this.outerFor(family).send(data, port, ip);
  }

  private fromRemote(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const s = this.s;
    const c = this.clientUdp;
    if (s.phase !== Phase.Udp || c === undefined || this.inner === undefined) return;
    if (!this.allowed('udpreply', rinfo.address, rinfo.port)) return;
    this.touch();
    this.fromDest += msg.length;
    const from: SocksAddress = addressFromHost(rinfo.address, rinfo.port);
    this.inner.send(encodeUdpDatagram(from, msg), c.port, c.address);
  }

  onClientData(): void {
    // Nothing is expected on the control connection.
  }

  onClientEnd(): void {
    this.s.close('local client closed');
  }

  counts(): { toDest: number; fromDest: number; local: string; dest: string } {
    return { toDest: this.toDest, fromDest: this.fromDest, local: this.local, dest: this.s.destText };
  }

  dispose(): void {
    this.inner?.close();
    this.inner = undefined;
    for (const sock of this.outer.values()) sock.close();
    this.outer.clear();
  }
}
