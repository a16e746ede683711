/**
 * CONNECT: dial the destination, then (only on success) flush the early data
 * to it and send REP 00 - early data first, then the relay. On failure the
 * destination socket never saw a byte.
 */
import type * as net from 'node:net';
import { Rep, type Relay, Socks4Rep, addressFromHost } from '@mptcp-proxy/common';
import { dotAddr } from '../log/dante-format';
import { dial } from '../net/dialer';
import type { CommandContext, CommandHandler } from './command';
import { startStreamRelay } from './stream-relay';
import { connDialled } from '../events';

export class ConnectHandler implements CommandHandler {
  private dest: net.Socket | undefined;
  private relay: Relay | undefined;
  private local = '0.0.0.0.0';
  private readonly started = Date.now();

  constructor(private readonly ctx: CommandContext) {}

  start(): void {
    const { rt, request, peer, session } = this.ctx;
    const target = request.target;
    if (target === undefined) {
      session.failErrno('EHOSTUNREACH', 'no address to connect to');
      return;
    }
    const d = dial(rt, { ip: target.ip, family: target.family, port: request.address.port, clientLocal: peer.localAddress });
    this.dest = d.socket;
    d.done.then(session.guard((sock: net.Socket) => this.connected(sock)), session.guard((err: NodeJS.ErrnoException) => this.failed(err)));
  }

  private failed(err: NodeJS.ErrnoException): void {
    const s = this.ctx.session;
    this.dest = undefined;
    if (s.closed) return;
    s.connectDone();
    s.failErrno(err.code, 'remote peer error');
  }

  private connected(sock: net.Socket): void {
    const { session: s, request } = this.ctx;
    if (s.closed) {
      sock.destroy();
      return;
    }
    s.connectDone();
    this.dest = sock;
    this.local = dotAddr(sock.localAddress, sock.localPort);
    if (connDialled.hasSubscribers) {
      const { peer } = this.ctx;
      connDialled.publish({
        client: dotAddr(peer.clientAddress, peer.clientPort), internal: dotAddr(peer.localAddress, peer.localPort),
        dest: s.destText, ms: Date.now() - this.started,
      });
    }
    startStreamRelay(this.ctx, sock, (r) => (this.relay = r), () => {
      const bound = sock.localAddress !== undefined ? addressFromHost(sock.localAddress, sock.localPort ?? 0) : undefined;
      s.reply(request.version === 4 ? Socks4Rep.Granted : Rep.Succeeded, bound);
      s.logOpen(this.local);
    });
  }

  onClientEnd(): void {
    // EOF before the connect finished: the relay passes it on once it starts.
  }

  counts(): { toDest: number; fromDest: number; local: string } {
    return { toDest: this.relay?.aToB ?? 0, fromDest: this.relay?.bToA ?? 0, local: this.local };
  }

  dispose(): void {
    if (this.relay) this.relay.abort();
    else this.dest?.destroy();
    this.dest = undefined;
  }
}
