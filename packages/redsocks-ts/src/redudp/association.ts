/**
 * One SOCKS5 UDP ASSOCIATE (RFC 1928 §7) for one LAN flow (docs/redudp.md): the TCP control
 * connection comes from the section's dialer (MPTCP, its initial subflow on a live WAN path),
 * the request is redsocks' (`UDP ASSOCIATE 0.0.0.0:0`, the server pins our address from the
 * first datagram), and the datagrams go from a UDP socket bound to the control connection's
 * own source address, so they leave on the same WAN path, the one the server expects them
 * from. A relay address of 0.0.0.0 / :: in the reply means the server's own address.
 */
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import {
  Command, ProtocolError, ReceiveBuffer, addressFromHost, encodeRequest, encodeUdpDatagram, parseUdpDatagram,
  type SocksAddress,
} from '@mptcp-proxy/common';
import { UdpSocket } from 'mptcp-native';
import type { Dialer } from '../dial';
import { socks5Credentials, socks5Exchange } from '../upstream/socks5';

export interface AssociationSpec {
  dialer: Dialer;
  login?: string;
  password?: string;
  /** The flow's destination, written into each datagram's SOCKS5 header. */
  dest: { address: string; port: number };
}

const V4_MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;
const plain = (a: string): string => V4_MAPPED.exec(a)?.[1] ?? a;

/**
 * Events: 'data' (payload: Buffer) for each datagram the server relays from the destination;
 * 'unexpected' (what: string) for one dropped (wrong sender, fragment, other address);
 * 'close' once, when the control connection ends.
 */
export class UdpAssociation extends EventEmitter {
  private closed = false;
  private readonly header: SocksAddress;
  /** Datagrams sent / relayed back. */
  sent = 0;
  received = 0;
  lastSent = 0;
  lastReceived = 0;

  private constructor(
    private readonly control: net.Socket,
    private readonly udp: UdpSocket,
    readonly relay: { address: string; port: number },
    readonly path: string | undefined,
    readonly source: string,
    dest: { address: string; port: number },
  ) {
    super();
    this.header = addressFromHost(dest.address, dest.port);
    udp.on('message', (data: Buffer, info) => this.fromRelay(data, info.from));
    control.on('data', () => undefined); // nothing is expected on the control connection
    control.once('close', () => this.close());
    control.on('error', () => undefined);
  }

  static async open(spec: AssociationSpec): Promise<UdpAssociation> {
    const up = await spec.dialer.dial({ pooled: false });
    const control = up.socket;
    control.on('error', () => undefined);
    const reader = new ReceiveBuffer(control);
    let udp: UdpSocket | undefined;
    try {
      const any = addressFromHost('0.0.0.0', 0);
      const reply = await socks5Exchange(control, reader, socks5Credentials(spec), encodeRequest(Command.UdpAssociate, any));
      reader.detach();
      const bound = reply.address;
      if (bound.type === 'domain') throw new ProtocolError('ESOCKS_ATYP', 'Socks5 server reported unexpected address type for UDP dgram destination: 3');
      const server = plain(control.remoteAddress ?? '');
      const relayHost = bound.host === '0.0.0.0' || bound.host === '::' ? server : plain(bound.host);
      const source = plain(control.localAddress ?? '');
      const path = up.path !== undefined ? spec.dialer.paths().find((p) => p.name === up.path) : undefined;
      // the UDP socket's family follows the relay's; its source is the control connection's
      const relayFamily = net.isIP(relayHost);
      const bindHost = net.isIP(source) === relayFamily ? source : relayFamily === 6 ? '::' : '0.0.0.0';
      udp = UdpSocket.open({ address: bindHost, port: 0, device: path?.device, mark: path?.mark });
      return new UdpAssociation(control, udp, { address: relayHost, port: bound.port }, up.path, bindHost, spec.dest);
    } catch (err) {
      reader.detach();
      control.destroy();
      udp?.close();
      throw err;
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** One datagram to the destination; false when the socket refused it (dropped, as UDP may). */
  send(payload: Buffer): boolean {
    if (this.closed) return false;
    try {
      this.udp.send(encodeUdpDatagram(this.header, payload), this.relay.address, this.relay.port);
    } catch {
      return false;
    }
    this.sent++;
    this.lastSent = Date.now();
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.udp.close();
    this.control.destroy();
    this.emit('close');
  }

  private fromRelay(data: Buffer, from: { address: string; port: number }): void {
    if (from.address !== this.relay.address || from.port !== this.relay.port) {
      this.emit('unexpected', `Got packet from unexpected address ${from.address}:${from.port}.`);
      return;
    }
    let d;
    try {
      d = parseUdpDatagram(data);
    } catch (err) {
      this.emit('unexpected', `Got a malformed datagram: ${(err as Error).message}`);
      return;
    }
    if (d.frag !== 0) {
      this.emit('unexpected', `Got fragment #${d.frag}. Packet fragmentation is not supported!`);
      return;
    }
    const a = d.address;
    if (a.type === 'domain' || a.host !== this.header.host || a.port !== this.header.port) {
      this.emit('unexpected', `Socks5 server relayed packet from unexpected address ${a.host}:${a.port}.`);
      return;
    }
    this.received++;
    this.lastReceived = Date.now();
    this.emit('data', d.data);
  }
}
