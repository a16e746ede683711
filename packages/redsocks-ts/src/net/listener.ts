/**
 * The LAN-side listener: always plain TCP (SO_ORIGINAL_DST only works there). For
 * `redirector = generic` (TPROXY) it needs IP_TRANSPARENT, and for -N workers SO_REUSEPORT,
 * which only mptcp-native can set (Node 20's listen() has neither).
 */
import * as net from 'node:net';
import { listen } from 'mptcp-native';

export interface ListenSpec {
  host: string;
  port: number;
  backlog: number;
  transparent: boolean;
  /** SO_REUSEPORT: one of several -N workers listening on the same address. */
  reusePort?: boolean;
}

// TCP_NODELAY on every accepted LAN socket: a reply the relay writes in two pieces (headers,
// then the body) would otherwise wait for the browser's delayed ACK (Linux: >= 40 ms) before
// the second piece leaves; the upstream sockets have it too (dial/dialer.ts).
export async function openListener(spec: ListenSpec, onConnection: (s: net.Socket) => void): Promise<net.Server> {
  if (spec.transparent || spec.reusePort) {
    try {
      const { host, port, backlog, transparent, reusePort } = spec;
      return await listen({ host, port, backlog, transparent, reusePort, mptcp: 'off', noDelay: true }, onConnection);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EPERM' && spec.transparent) {
        err.message = `IP_TRANSPARENT on ${spec.host}:${spec.port} (redirector = generic): EPERM: it needs CAP_NET_ADMIN ` +
          '(under systemd: conf/systemd/redsocks-ts.service.d/tproxy.conf; in Docker: --cap-add NET_ADMIN)';
      }
      throw err;
    }
  }
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: spec.host, port: spec.port, backlog: spec.backlog }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export function boundPort(server: net.Server): number {
  const a = server.address();
  return a && typeof a === 'object' ? a.port : 0;
}
