/** Real loopback sockets for protocol tests: a fake proxy and a connected client pair. */
import * as net from 'node:net';
import { ReceiveBuffer } from '@mptcp-proxy/common';
import { EARLY_DATA_LIMIT } from '../../src/core/client';
import type { ConnLogger, UpstreamContext } from '../../src/upstream/upstream';
import type { RedsocksSection } from '../../src/config/types';

export interface FakeProxy {
  port: number;
  /** Every byte each accepted connection sent, in accept order. */
  received: Buffer[];
  close(): Promise<void>;
}

/**
 * A proxy whose behaviour is a function of (connection index, bytes so far): it returns
 * the bytes to answer with once it has seen enough, or null to wait for more.
 */
export async function fakeProxy(
  respond: (index: number, got: Buffer, sock: net.Socket) => Buffer | string | null,
): Promise<FakeProxy> {
  const received: Buffer[] = [];
  const socks = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    socks.add(sock);
    sock.on('close', () => socks.delete(sock));
    sock.on('error', () => undefined);
    const index = received.length;
    received.push(Buffer.alloc(0));
    let answered = false;
    sock.on('data', (d) => {
      received[index] = Buffer.concat([received[index], d]);
      if (answered) return;
      const r = respond(index, received[index], sock);
      if (r !== null) {
        answered = true;
        if (r.length) sock.write(r);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    received,
    close: () =>
      new Promise<void>((r) => {
        for (const s of socks) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A connected pair on loopback: `inner` is the side redsocks would have accepted. */
export async function socketPair(): Promise<{ outer: net.Socket; inner: net.Socket; close(): void }> {
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const innerP = new Promise<net.Socket>((r) => server.once('connection', r));
  const outer = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const inner = await innerP;
  server.close();
  await new Promise<void>((r) => (outer.connecting ? outer.once('connect', () => r()) : r()));
  return {
    outer,
    inner,
    close() {
      outer.destroy();
      inner.destroy();
    },
  };
}

export interface TestLog extends ConnLogger {
  lines: string[];
}

export function testLog(): TestLog {
  const lines: string[] = [];
  return {
    lines,
    debug: (m) => lines.push(`debug ${m}`),
    info: (m) => lines.push(`info ${m}`),
    error: (m) => lines.push(`err ${m}`),
  };
}

export function makeCtx(
  inner: net.Socket,
  section: RedsocksSection,
  dest = { address: '10.1.2.3', port: 80 },
): UpstreamContext & { early: ReceiveBuffer; log: TestLog; upstreams: net.Socket[] } {
  const early = new ReceiveBuffer(inner, { pauseAt: EARLY_DATA_LIMIT });
  const log = testLog();
  const upstreams: net.Socket[] = [];
  return {
    client: inner,
    clientAddr: { address: '192.168.1.5', port: 40000 },
    dest,
    section,
    early,
    log,
    upstreams,
    dial: () =>
      new Promise((resolve, reject) => {
        const s = net.connect({ host: section.ip, port: section.port, allowHalfOpen: true });
        upstreams.push(s);
        s.once('connect', () => resolve({ socket: s }));
        s.once('error', reject);
      }),
    startClientToUpstream: () => undefined,
  };
}

/** Collect everything a socket sends until it ends. */
export function collect(sock: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    sock.on('data', (d) => parts.push(d));
    sock.on('end', () => resolve(Buffer.concat(parts)));
    sock.on('close', () => resolve(Buffer.concat(parts)));
  });
}
