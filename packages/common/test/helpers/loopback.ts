/** Loopback rigs shared by the relay tests: client <-> [a relay b] <-> target. */
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import { waitFor } from '@mptcp-proxy/lab';

export const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');


export function listen(onConn: (s: net.Socket) => void): Promise<net.Server> {
  const srv = net.createServer({ allowHalfOpen: true }, onConn);
  return new Promise((res) => srv.listen(0, '127.0.0.1', () => res(srv)));
}
export const portOf = (s: net.Server): number => (s.address() as net.AddressInfo).port;

export function connect(port: number): Promise<net.Socket> {
  return new Promise((res, rej) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => res(s));
    s.once('error', rej);
  });
}

export function collect(s: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (c: Buffer) => parts.push(c));
  return new Promise((res, rej) => {
    s.once('end', () => res(Buffer.concat(parts)));
    s.once('error', rej);
  });
}

export interface Rig {
  client: net.Socket;
  target: net.Socket;
  /** a = proxy's accepted client socket, b = proxy's socket to the target. */
  a: net.Socket;
  b: net.Socket;
  close(): void;
}

/** client <-> [a  relay  b] <-> target, all real loopback sockets. */
export async function rig(): Promise<Rig> {
  let target!: net.Socket;
  const tSrv = await listen((s) => (target = s));
  let a!: net.Socket;
  const pSrv = await listen((s) => (a = s));
  const client = await connect(portOf(pSrv));
  const b = await connect(portOf(tSrv));
  await waitFor(() => a !== undefined && target !== undefined, 10000, 'accepts');
  return {
    client,
    target,
    a,
    b,
    close: () => {
      for (const s of [client, target, a, b]) s.destroy();
      tSrv.close();
      pSrv.close();
    },
  };
}
