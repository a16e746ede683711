/**
 * The LAN-side listener: always plain TCP (SO_ORIGINAL_DST only works there). For
 * `redirector = generic` (TPROXY) it needs IP_TRANSPARENT, which only mptcp-native can set.
 */
import * as net from 'node:net';
import { listen } from 'mptcp-native';

export interface ListenSpec {
  host: string;
  port: number;
  backlog: number;
  transparent: boolean;
}

export async function openListener(spec: ListenSpec, onConnection: (s: net.Socket) => void): Promise<net.Server> {
  if (spec.transparent) {
    try {
      return await listen({ host: spec.host, port: spec.port, backlog: spec.backlog, transparent: true, mptcp: 'off' }, onConnection);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EPERM') {
        err.message = `IP_TRANSPARENT on ${spec.host}:${spec.port} (redirector = generic): EPERM: it needs CAP_NET_ADMIN ` +
          '(under systemd: conf/systemd/redsocks-ts.service.d/tproxy.conf; in Docker: --cap-add NET_ADMIN)';
      }
      throw err;
    }
  }
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, onConnection);
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
