/** Loopback fixtures for socks-server tests: a server from danted.conf text, sinks, raw clients. */
import * as net from 'node:net';
import { once } from 'node:events';
import { parseDantedConfig, startServer, type SocksServer, type StartOptions } from '../../src';
import { createDanteLogger } from '../../src/log/dante-logger';

export interface Fixture {
  srv: SocksServer;
  port: number;
  lines: string[];
  close(): Promise<void>;
}

/** Parses `text` (internal port rewritten to 0 = ephemeral) and starts a server logging into `lines`. */
export async function serverFrom(text: string, opts: StartOptions & { format?: 'text' | 'json' } = {}): Promise<Fixture> {
  const { config } = parseDantedConfig(text, 'test.conf');
  for (const i of config.internal) i.port = 0;
  const lines: string[] = [];
  const log = createDanteLogger([], { capture: (l) => lines.push(l.trimEnd()), format: opts.format ?? config.ext.logFormat, debug: config.debug });
  const srv = await startServer(config, { log, tickMs: 50, ...opts });
  return { srv, port: srv.addresses()[0].port, lines, close: () => srv.close() };
}

/** A destination that records every connection's bytes. */
export interface Sink {
  port: number;
  server: net.Server;
  connections: number;
  received: Buffer[];
  total(): Buffer;
  /** Reply to each connection with `greeting` (optional) and echo when `echo`. */
  close(): Promise<void>;
}

export async function sink(opts: { echo?: boolean; greeting?: Buffer; host?: string } = {}): Promise<Sink> {
  const s: Sink = {
    port: 0,
    server: net.createServer({ allowHalfOpen: true }),
    connections: 0,
    received: [],
    total: () => Buffer.concat(s.received),
    close: () => new Promise((r) => s.server.close(() => r())),
  };
  const socks = new Set<net.Socket>();
  s.server.on('connection', (c) => {
    s.connections++;
    socks.add(c);
    c.on('close', () => socks.delete(c));
    c.on('error', () => undefined);
    if (opts.greeting) c.write(opts.greeting);
    c.on('data', (d) => {
      s.received.push(d);
      if (opts.echo) c.write(d);
    });
    c.on('end', () => c.end());
  });
  const origClose = s.close;
  s.close = () => {
    for (const c of socks) c.destroy();
    return origClose();
  };
  s.server.listen(0, opts.host ?? '127.0.0.1');
  await once(s.server, 'listening');
  s.port = (s.server.address() as net.AddressInfo).port;
  return s;
}

/** A raw TCP client that accumulates everything it reads. */
export class RawClient {
  readonly sock: net.Socket;
  private buf = Buffer.alloc(0);
  ended = false;
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(sock: net.Socket) {
    this.sock = sock;
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    sock.on('end', () => {
      this.ended = true;
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => undefined);
  }

  static async connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
    const sock = net.connect({ port, host, localAddress, allowHalfOpen: true });
    await once(sock, 'connect');
    sock.setNoDelay(true);
    return new RawClient(sock);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  get data(): Buffer {
    return this.buf;
  }

  write(b: Buffer | number[]): void {
    this.sock.write(Buffer.isBuffer(b) ? b : Buffer.from(b));
  }

  /** Resolves with the first `n` bytes once they arrived (or rejects on close / timeout). */
  async read(n: number, ms = 5000): Promise<Buffer> {
    const end = Date.now() + ms;
    while (this.buf.length < n) {
      if (this.closed || this.ended) throw new Error(`connection ended after ${this.buf.length} of ${n} bytes: ${this.buf.toString('hex')}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${n} bytes (have ${this.buf.length})`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Waits until the peer closed or ended; returns everything unread. */
  async untilEnd(ms = 5000): Promise<Buffer> {
    const end = Date.now() + ms;
    while (!this.ended && !this.closed) {
      if (Date.now() > end) throw new Error('timed out waiting for EOF');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }

  destroy(): void {
    this.sock.destroy();
  }
}

export function ipv4Request(cmd: number, ip: string, port: number): Buffer {
  const b = Buffer.alloc(10);
  b[0] = 5;
  b[1] = cmd;
  b[3] = 1;
  ip.split('.').forEach((p, i) => (b[4 + i] = Number(p)));
  b.writeUInt16BE(port, 8);
  return b;
}

export function userPass(user: string, pass: string): Buffer {
  return Buffer.concat([Buffer.from([1, user.length]), Buffer.from(user), Buffer.from([pass.length]), Buffer.from(pass)]);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


/** A loopback TCP port that was free a moment ago (for configs that cannot say port 0). */
export function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => res(p));
    });
  });
}
