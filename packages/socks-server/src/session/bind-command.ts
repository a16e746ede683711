/**
 * BIND (SOCKS4 and SOCKS5): listen on the external address, first reply with
 * the bound address, second reply when the remote connects (the FTP active
 * data connection), then relay. One incoming connection per request.
 */
import * as net from 'node:net';
import {
  Rep, type Relay, Socks4Rep, addressFromHost, encodeSocks4Reply, encodeSocks5Reply,
} from '@mptcp-proxy/common';
import type { MatchContext } from '../config';
import { matchRule } from '../config';
import { dotAddr } from '../log/dante-format';
import { sourceAddress } from '../net/dialer';
import { Phase, type CommandHandler, type Session } from './session';
import { startStreamRelay } from './stream-relay';

export class BindHandler implements CommandHandler {
  private server: net.Server | undefined;
  private remote: net.Socket | undefined;
  private relay: Relay | undefined;
  private local = '0.0.0.0.0';
  private peer = '0.0.0.0.0';

  constructor(private readonly s: Session) {}

  start(): void {
    const s = this.s;
    s.connectDone();
    const req = s.request!;
    const family: 4 | 6 = req.family ?? (req.address.type === 'ipv6' ? 6 : 4);
    const host = sourceAddress(s.rt, { ip: '', family, port: 0, clientLocal: s.localAddress })
      ?? (net.isIP(s.localAddress) === family ? s.localAddress : family === 6 ? '::' : '0.0.0.0');
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    this.server = server;
    server.on('error', (err: NodeJS.ErrnoException) => {
      if (s.phase === Phase.Bind) s.failErrno(err.code, 'bind failed');
    });
    server.on('connection', (sock) => this.incoming(sock));
    server.listen({ host, port: 0, backlog: 1 }, () => {
      if (s.phase !== Phase.Bind) return;
      const a = server.address() as net.AddressInfo;
      this.local = dotAddr(a.address, a.port);
      s.reply(req.version === 4 ? Socks4Rep.Granted : Rep.Succeeded, addressFromHost(a.address, a.port));
      s.logOpen(this.local);
    });
  }

  private incoming(sock: net.Socket): void {
    const s = this.s;
    if (s.phase !== Phase.Bind || this.remote !== undefined) {
      sock.destroy();
      return;
    }
    const req = s.request!;
    const rip = sock.remoteAddress ?? '0.0.0.0';
    const rport = sock.remotePort ?? 0;
    // RFC 1928: DST.ADDR names the host expected to connect; 0.0.0.0 = anyone.
    const expected = req.ip;
    if (expected !== undefined && expected !== '0.0.0.0' && expected !== '::' && expected !== rip) {
      sock.destroy();
      return;
    }
    const ctx: MatchContext = {
      clientAddress: s.clientAddress, clientPort: s.clientPort,
      serverAddress: s.localAddress, serverPort: s.localPort,
      command: 'bindreply', protocol: 'tcp', proxyProtocol: req.version === 4 ? 'socks_v4' : 'socks_v5',
      method: s.method, user: s.user, dest: { host: rip, port: rport },
    };
    if (!matchRule(s.rt.config.socksRules, ctx).pass) {
      sock.destroy();
      return;
    }
    this.remote = sock;
    this.peer = dotAddr(rip, rport);
    this.server?.close();
    this.server = undefined;
    const bound = addressFromHost(rip, rport);
    s.sendReplyBytes(req.version === 4 ? encodeSocks4Reply(Socks4Rep.Granted, bound) : encodeSocks5Reply(Rep.Succeeded, bound));
    startStreamRelay(s, sock, (r) => (this.relay = r));
  }

  onClientEnd(): void {
    // The client gave up waiting for the remote.
    if (this.s.phase === Phase.Bind) this.s.close('local client closed');
  }

  counts(): { toDest: number; fromDest: number; local: string; dest: string } {
    return { toDest: this.relay?.aToB ?? 0, fromDest: this.relay?.bToA ?? 0, local: this.local, dest: this.peer };
  }

  dispose(): void {
    this.server?.close();
    this.server = undefined;
    if (this.relay) this.relay.abort();
    else this.remote?.destroy();
  }
}
