/**
 * BIND (SOCKS4 and SOCKS5): listen on the external address, first reply with
 * the bound address, second reply when the remote connects (the FTP active
 * data connection), then relay. One incoming connection per request.
 */
import * as net from 'node:net';
import {
  Rep, type Relay, Socks4Rep, addressFromHost, encodeSocks4Reply, encodeSocks5Reply,
} from '@mptcp-proxy/common';
import { dotAddr } from '../log/dante-format';
import { sourceAddress } from '../net/dialer';
import type { CommandContext, CommandHandler } from './command';
import { commandAllows } from './session-policy';
import { startStreamRelay } from './stream-relay';

export class BindHandler implements CommandHandler {
  private server: net.Server | undefined;
  private remote: net.Socket | undefined;
  private relay: Relay | undefined;
  private local = '0.0.0.0.0';

  constructor(private readonly ctx: CommandContext) {}

  /** Still waiting for the remote's connection. */
  private get waiting(): boolean {
    return !this.ctx.session.closed && this.remote === undefined;
  }

  start(): void {
    const { rt, request: req, peer, session: s } = this.ctx;
    s.connectDone();
    const family: 4 | 6 = req.target?.family ?? (req.address.type === 'ipv6' ? 6 : 4);
    const host = sourceAddress(rt, { ip: '', family, port: 0, clientLocal: peer.localAddress })
      ?? (net.isIP(peer.localAddress) === family ? peer.localAddress : family === 6 ? '::' : '0.0.0.0');
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    this.server = server;
    server.on('error', s.guard((err: NodeJS.ErrnoException) => {
      if (this.waiting) s.failErrno(err.code, 'bind failed');
    }));
    server.on('connection', s.guard((sock: net.Socket) => this.incoming(sock)));
    server.listen({ host, port: 0, backlog: 1 }, s.guard(() => {
      if (!this.waiting) return;
      const a = server.address() as net.AddressInfo;
      this.local = dotAddr(a.address, a.port);
      s.reply(req.version === 4 ? Socks4Rep.Granted : Rep.Succeeded, addressFromHost(a.address, a.port));
      s.logOpen(this.local);
    }));
  }

  private incoming(sock: net.Socket): void {
    const { request: req, session: s } = this.ctx;
    if (!this.waiting) {
      sock.destroy();
      return;
    }
    const rip = sock.remoteAddress ?? '0.0.0.0';
    const rport = sock.remotePort ?? 0;
    // RFC 1928: DST.ADDR names the host expected to connect; 0.0.0.0 = anyone.
    const expected = req.target?.ip;
    if (expected !== undefined && expected !== '0.0.0.0' && expected !== '::' && expected !== rip) {
      sock.destroy();
      return;
    }
    if (!commandAllows(this.ctx, 'bindreply', { host: rip, port: rport })) {
      sock.destroy();
      return;
    }
    this.remote = sock;
    this.server?.close();
    this.server = undefined;
    const bound = addressFromHost(rip, rport);
    s.sendReplyBytes(req.version === 4 ? encodeSocks4Reply(Socks4Rep.Granted, bound) : encodeSocks5Reply(Rep.Succeeded, bound));
    startStreamRelay(this.ctx, sock, (r) => (this.relay = r));
  }

  onClientEnd(): void {
    // The client gave up waiting for the remote.
    if (this.waiting) this.ctx.session.close('local client closed');
  }

  counts(): { toDest: number; fromDest: number; local: string } {
    return { toDest: this.relay?.aToB ?? 0, fromDest: this.relay?.bToA ?? 0, local: this.local };
  }

  dispose(): void {
    this.server?.close();
    this.server = undefined;
    if (this.relay) this.relay.abort();
    else this.remote?.destroy();
  }
}
