/**
 * CONNECT: dial the destination, then (only on success) flush the early data
 * to it and send REP 00 - early data first, then the relay. On failure the
 * destination socket never saw a byte.
 */
import type * as net from 'node:net';
import { Rep, type Relay, Socks4Rep, addressFromHost } from '@mptcp-proxy/common';
import { dotAddr } from '../log/dante-format';
import { dial } from '../net/dialer';
import { Phase, type CommandHandler, type Session } from './session';
import { startStreamRelay } from './stream-relay';

export class ConnectHandler implements CommandHandler {
  private dest: net.Socket | undefined;
  private relay: Relay | undefined;
  private local = '0.0.0.0.0';

  constructor(private readonly s: Session) {}

  start(): void {
    const s = this.s;
    const req = s.request!;
    const d = dial(s.rt, { ip: req.ip!, family: req.family!, port: req.address.port, clientLocal: s.localAddress });
    this.dest = d.socket;
    d.done.then((sock) => this.connected(sock), (err: NodeJS.ErrnoException) => this.failed(err));
  }

  private failed(err: NodeJS.ErrnoException): void {
    const s = this.s;
    this.dest = undefined;
    if (s.phase !== Phase.Connecting) return;
    s.connectDone();
    s.failErrno(err.code, 'remote peer error');
  }

  private connected(sock: net.Socket): void {
    const s = this.s;
    if (s.phase !== Phase.Connecting) {
      sock.destroy();
      return;
    }
    s.connectDone();
    this.dest = sock;
    this.local = dotAddr(sock.localAddress, sock.localPort);
    startStreamRelay(s, sock, (r) => (this.relay = r), () => {
      const bound = sock.localAddress !== undefined ? addressFromHost(sock.localAddress, sock.localPort ?? 0) : undefined;
      s.reply(s.request!.version === 4 ? Socks4Rep.Granted : Rep.Succeeded, bound);
      s.logOpen(this.local);
    });
  }

  onClientEnd(): void {
    // EOF before the connect finished: the relay passes it on once it starts.
  }

  counts(): { toDest: number; fromDest: number; local: string; dest: string } {
    return {
      toDest: this.relay?.aToB ?? 0,
      fromDest: this.relay?.bToA ?? 0,
      local: this.local,
      dest: this.s.destText,
    };
  }

  dispose(): void {
    if (this.relay) this.relay.abort();
    else this.dest?.destroy();
    this.dest = undefined;
  }
}
