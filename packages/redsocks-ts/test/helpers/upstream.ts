/**
 * The upstream protocols' test rig, on real loopback sockets: a scripted peer that records every
 * byte (ScriptedServer, and fakeProxy on top of it), a LAN client socket pair accepted as the
 * daemon accepts (lanPair), the UpstreamContext the core builds (upstreamContext), and a harness
 * that runs a protocol and relays like the core (harness).
 */
import * as net from 'node:net';
import { EXTENSION_DEFAULTS } from '../../src/config/extensions';
import type { RedsocksSection } from '../../src/config/types';
import { ReceiveBuffer } from '@mptcp-proxy/common';
import { EARLY_DATA_LIMIT } from '../../src/core/client';
import { section } from './config';
import type { ConnLogger, DialOptions, Dialed, Tunnel, UpstreamContext, UpstreamProtocol } from '../../src/upstream/upstream';

/**
 * A parsed `redsocks {}` section with the extension keys at their shipped defaults, except the
 * warm pool and optimistic connect (on by default since issue 10), which a test asks for by name.
 */
export function testSection(over: Partial<RedsocksSection> = {}): RedsocksSection {
  return section({ line: 1, ...EXTENSION_DEFAULTS, poolSize: 0, optimistic: 'off', paths: [], fastopenDataPorts: [], ...over });
}

/** Resolves when `cond()` holds, re-checked on every event `wake` is called for. */
function until(cond: () => boolean, subscribe: (fn: () => void) => () => void): Promise<void> {
  if (cond()) return Promise.resolve();
  return new Promise((resolve) => {
    const off = subscribe(() => {
      if (cond()) {
        off();
        resolve();
      }
    });
  });
}

/** One accepted connection of a ScriptedServer. */
export class PeerConn {
  received: Buffer = Buffer.alloc(0);
  readonly chunks: Buffer[] = [];
  ended = false;
  closed = false;
  private readonly listeners = new Set<() => void>();

  constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.received = Buffer.concat([this.received, c]);
      this.emit();
    });
    socket.on('end', () => {
      this.ended = true;
      this.emit();
    });
    socket.on('close', () => {
      this.closed = true;
      this.emit();
    });
    socket.on('error', () => undefined);
  }

  private emit(): void {
    for (const l of [...this.listeners]) l();
  }

  private subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  /** Waits until at least `n` bytes have arrived (rejects if the peer closes first). */
  async bytes(n: number): Promise<Buffer> {
    await until(() => this.received.length >= n || this.ended || this.closed, this.subscribe);
    if (this.received.length < n) {
      throw new Error(`peer closed after ${this.received.length} of ${n} bytes: ${this.received.toString('hex')}`);
    }
    return this.received.subarray(0, n);
  }

  /** Waits until more than `have` bytes arrived, or EOF/close (whichever first). */
  async more(have: number): Promise<void> {
    await until(() => this.received.length > have || this.ended || this.closed, this.subscribe);
  }

  /** Waits for EOF or close. */
  async eof(): Promise<void> {
    await until(() => this.ended || this.closed, this.subscribe);
  }

  write(data: Buffer | number[] | string): Promise<void> {
    const b = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data as Buffer);
    return new Promise((resolve) => this.socket.write(b, () => resolve()));
  }

  /** From now on, echoes every byte past the first `from` ones (those already here included). */
  echoFrom(from: number): void {
    let echoed = from;
    const pump = (): void => {
      if (this.received.length <= echoed) return;
      this.socket.write(this.received.subarray(echoed));
      echoed = this.received.length;
    };
    this.socket.on('data', pump);
    pump();
  }

  /** Writes one byte at a time, each its own segment (split-reply tests). */
  async writeSplit(data: Buffer | number[]): Promise<void> {
    const b = Buffer.from(data as Buffer);
    this.socket.setNoDelay(true);
    for (const byte of b) {
      await this.write([byte]);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

export type Script = (conn: PeerConn, index: number) => Promise<void>;

/** A loopback TCP server that runs `script` for each connection and records everything. */
export class ScriptedServer {
  readonly conns: PeerConn[] = [];
  readonly errors: unknown[] = [];
  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(script: Script): Promise<ScriptedServer> {
    const holder: { s?: ScriptedServer } = {};
    const server = net.createServer({ allowHalfOpen: true }, (sock) => {
      const s = holder.s as ScriptedServer;
      const conn = new PeerConn(sock);
      const i = s.conns.push(conn) - 1;
      script(conn, i).catch((e) => {
        s.errors.push(e);
        sock.destroy();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    holder.s = new ScriptedServer(server, (server.address() as net.AddressInfo).port);
    return holder.s;
  }

  close(): Promise<void> {
    for (const c of this.conns) c.socket.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/**
 * A real LAN-side pair: `app` is the LAN application, `client` the gateway's accepted socket,
 * accepted paused as the daemon's listener accepts (pauseOnConnect).
 */
export async function lanPair(): Promise<{ app: net.Socket; client: net.Socket; close(): void }> {
  const srv = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => srv.once('connection', r));
  const app = net.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  app.on('error', () => undefined);
  const client = await accepted;
  client.on('error', () => undefined);
  srv.close();
  await new Promise<void>((r) => (app.connecting ? app.once('connect', () => r()) : r()));
  return {
    app,
    client,
    close() {
      app.destroy();
      client.destroy();
    },
  };
}

export interface Harness {
  ctx: UpstreamContext;
  app: net.Socket;
  client: net.Socket;
  /** Everything the LAN app received. */
  appReceived(): Buffer;
  dials: DialOptions[];
  /** What each dial returned (the path a socket took). */
  dialed: Dialed[];
  streamedEarly: boolean;
  logs: string[];
  /** Runs establish; on success relays both ways like the core, on failure resets like the core. */
  run(protocol: UpstreamProtocol): Promise<Tunnel>;
  close(): void;
}

/** A plain TCP connection to the section's proxy, as a Dialed. */
function connectTo(section: RedsocksSection): Promise<Dialed> {
  return new Promise<Dialed>((resolve, reject) => {
    const c = net.connect({ host: section.ip, port: section.port, allowHalfOpen: true });
    c.once('connect', () => resolve({ socket: c }));
    c.once('error', reject);
  });
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

/**
 * The context the core hands a protocol for the client socket `client` (accepted, paused):
 * its early data, a log that records, and `dial` (default: a plain TCP connection to the
 * section's proxy; every socket dialed is in `upstreams`).
 */
export function upstreamContext(
  client: net.Socket,
  section: RedsocksSection,
  dest = { address: '10.1.2.3', port: 80 },
  dial?: UpstreamContext['dial'],
): UpstreamContext & { early: ReceiveBuffer; log: TestLog; upstreams: net.Socket[] } {
  const upstreams: net.Socket[] = [];
  return {
    client,
    clientAddr: { address: '192.168.1.5', port: 40000 },
    dest,
    section,
    early: new ReceiveBuffer(client, { pauseAt: EARLY_DATA_LIMIT }),
    log: testLog(),
    upstreams,
    dial:
      dial ??
      (async () => {
        const d = await connectTo(section);
        upstreams.push(d.socket);
        return d;
      }),
    startClientToUpstream: () => undefined,
  };
}

export async function harness(
  section: RedsocksSection,
  dest: { address: string; port: number },
  dial?: (opts: DialOptions) => Promise<Dialed>,
): Promise<Harness> {
  const pair = await lanPair();
  let appBytes = Buffer.alloc(0);
  pair.app.on('data', (c: Buffer) => {
    appBytes = Buffer.concat([appBytes, c]);
  });
  const sockets: net.Socket[] = [];
  let upStarted: net.Socket | undefined;
  const base = upstreamContext(pair.client, section, dest, async (opts = {}) => {
    h.dials.push(opts);
    const d = dial ? await dial(opts) : await connectTo(section);
    d.socket.on('error', () => undefined);
    sockets.push(d.socket);
    h.dialed.push(d);
    return d;
  });
  const early = base.early;
  const h: Harness = {
    app: pair.app,
    client: pair.client,
    appReceived: () => appBytes,
    dials: [],
    dialed: [],
    streamedEarly: false,
    logs: [],
    ctx: {
      ...base,
      clientAddr: { address: '127.0.0.1', port: pair.client.remotePort ?? 0 },
      early,
      log: {
        debug: (m) => h.logs.push(m),
        info: (m) => h.logs.push(m),
        error: (m) => h.logs.push(m),
      },
      startClientToUpstream: (up) => {
        if (upStarted) return;
        upStarted = up;
        h.streamedEarly = true;
        const rest = early.detach();
        if (rest.length) up.write(rest);
        pair.client.pipe(up);
        pair.client.resume();
      },
    },
    async run(protocol) {
      let t: Tunnel;
      try {
        t = await protocol.establish(h.ctx);
      } catch (e) {
        if ((e as { resetClient?: boolean }).resetClient) pair.client.resetAndDestroy();
        else pair.client.destroy();
        throw e;
      }
      if (t.leftover.length) pair.client.write(t.leftover);
      if (!upStarted) h.ctx.startClientToUpstream(t.upstream);
      t.upstream.pipe(pair.client);
      return t;
    },
    close() {
      pair.close();
      for (const s of sockets) s.destroy();
    },
  };
  return h;
}

/** Waits until the LAN app has received at least `n` bytes or was closed. */
export function appData(h: Harness, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (h.appReceived().length >= n || h.app.destroyed || h.app.readableEnded) {
        h.app.off('data', check);
        h.app.off('close', check);
        h.app.off('end', check);
        resolve(h.appReceived());
      }
    };
    h.app.on('data', check);
    h.app.on('close', check);
    h.app.on('end', check);
    check();
  });
}

export const hex = (b: Buffer | number[]): string => Buffer.from(b as Buffer).toString('hex');

/** IPv4 CONNECT request bytes for `ip:port`. */
export function connectBytes(ip: string, port: number): number[] {
  return [5, 1, 0, 1, ...ip.split('.').map(Number), port >> 8, port & 0xff];
}

export const OK_REPLY = [5, 0, 0, 1, 0, 0, 0, 0, 0, 0];

/** A real destination that records every connection and byte; answers `reply` and echoes. */
export interface Destination {
  port: number;
  connections: number;
  received(): Buffer;
  close(): Promise<void>;
}

export async function recordingDestination(opts: { reply?: string; echo?: boolean } = {}): Promise<Destination> {
  const chunks: Buffer[] = [];
  const socks = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (c) => {
    d.connections++;
    socks.add(c);
    c.on('close', () => socks.delete(c));
    c.on('error', () => undefined);
    let replied = false;
    c.on('data', (b: Buffer) => {
      chunks.push(b);
      if (opts.echo) c.write(b);
      if (opts.reply && !replied) {
        replied = true;
        c.write(opts.reply);
      }
    });
    c.on('end', () => c.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const d: Destination = {
    port: (server.address() as net.AddressInfo).port,
    connections: 0,
    received: () => Buffer.concat(chunks),
    close: () => {
      for (const c of socks) c.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
  return d;
}

/** A loopback port with nothing listening (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface FakeProxy {
  port: number;
  /** Every byte each accepted connection sent, in accept order. */
  readonly received: Buffer[];
  close(): Promise<void>;
}

/**
 * A ScriptedServer whose answer is a function of (connection index, bytes so far): it returns
 * the bytes to answer with once it has seen enough, or null to wait for more.
 */
export async function fakeProxy(respond: (index: number, got: Buffer, sock: net.Socket) => Buffer | string | null): Promise<FakeProxy> {
  const server = await ScriptedServer.start(async (c, i) => {
    for (;;) {
      const have = c.received.length;
      const r = have > 0 ? respond(i, c.received, c.socket) : null;
      if (r !== null) {
        if (r.length) await c.write(r);
        return;
      }
      if (c.ended || c.closed) return;
      await c.more(have);
    }
  });
  return {
    port: server.port,
    get received() {
      return server.conns.map((c) => c.received);
    },
    close: () => server.close(),
  };
}

/** Everything a socket sends until it ends or closes. */
export function collect(sock: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    sock.on('data', (d) => parts.push(d));
    sock.on('end', () => resolve(Buffer.concat(parts)));
    sock.on('close', () => resolve(Buffer.concat(parts)));
  });
}
