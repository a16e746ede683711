/**
 * One DNS-over-TCP tunnel (docs/dns.md): an MPTCP connection from the section's dialer, a
 * SOCKS5 CONNECT to the resolver, then many queries pipelined on it (RFC 7766 §6.2.1.1).
 * Each query gets an ID unique on this tunnel (queries from different LAN clients may share
 * an ID) and its own ID back in the answer; answers may come in any order.
 */
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import { Command, ProxyError, ReceiveBuffer, addressFromHost, encodeRequest } from '@mptcp-proxy/common';
import type { Dialed } from '../upstream/upstream';
import { socks5Credentials, socks5Exchange } from '../upstream/socks5';
import { frame, parseFramed } from './framing';
import { parseHeader, withId } from './message';

export interface TunnelSpec {
  /** A fresh connection to the SOCKS server (the section's dialer). */
  dial(): Promise<Dialed>;
  login?: string;
  password?: string;
  resolver: { address: string; port: number };
  maxInflight: number;
}

interface Pending {
  id: number;
  resolve(answer: Buffer): void;
  reject(err: Error): void;
}

/** Events: 'idle' (a query finished, room for another), 'close' (err?) once. */
export class DnsTunnel extends EventEmitter {
  private readonly pending = new Map<number, Pending>();
  private nextId = Math.floor(Math.random() * 0x10000);
  private closed = false;
  /** Queries sent on this tunnel since it opened. */
  sent = 0;

  private constructor(private readonly socket: net.Socket, private readonly reader: ReceiveBuffer, readonly spec: TunnelSpec, readonly path?: string) {
    super();
    void this.readLoop();
  }

  /** Dials, asks the SOCKS server for the resolver; rejects with the server's or the network's error. */
  static async open(spec: TunnelSpec): Promise<DnsTunnel> {
    const up = await spec.dial();
    const socket = up.socket;
    socket.on('error', () => undefined);
    const reader = new ReceiveBuffer(socket);
    try {
      const request = encodeRequest(Command.Connect, addressFromHost(spec.resolver.address, spec.resolver.port));
      await socks5Exchange(socket, reader, socks5Credentials(spec), request);
    } catch (err) {
      reader.detach();
      socket.destroy();
      throw err;
    }
    return new DnsTunnel(socket, reader, spec, up.path);
  }

  get inflight(): number {
    return this.pending.size;
  }

  get open(): boolean {
    return !this.closed;
  }

  /** Room for one more query now. */
  get ready(): boolean {
    return !this.closed && this.pending.size < this.spec.maxInflight;
  }

  /**
   * Sends one query; resolves with the answer (under the query's own ID). Rejects with
   * EDNS_TUNNEL when the tunnel closes first, EDNS_TIMEOUT after `timeoutMs` (a late answer
   * is then dropped).
   */
  query(query: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new ProxyError('EDNS_TUNNEL', 'the DNS tunnel is closed'));
    const id = this.freeId();
    const own = query.readUInt16BE(0);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) {
          reject(new ProxyError('EDNS_TIMEOUT', `no answer on the DNS tunnel within ${timeoutMs} ms`));
          this.emit('idle');
        }
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, {
        id,
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(withId(answer, own));
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.sent++;
      this.socket.write(frame(withId(query, id)));
    });
  }

  close(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    const why = err ?? new ProxyError('EDNS_TUNNEL', 'the DNS tunnel was closed');
    for (const p of this.pending.values()) p.reject(why);
    this.pending.clear();
    this.reader.detach();
    this.socket.destroy();
    this.emit('close', err);
  }

  private freeId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = (this.nextId + 1) & 0xffff;
      if (!this.pending.has(id)) return id;
    }
  }

  private async readLoop(): Promise<void> {
    try {
      for (;;) {
        const { message } = await this.reader.read(parseFramed);
        let id: number;
        try {
          id = parseHeader(message).id;
        } catch {
          continue; // a short message cannot be matched to a query
        }
        const p = this.pending.get(id);
        if (!p) continue; // an answer to a query given up on
        this.pending.delete(id);
        p.resolve(message);
        this.emit('idle');
      }
    } catch (err) {
      this.close(err as Error);
    }
  }
}
