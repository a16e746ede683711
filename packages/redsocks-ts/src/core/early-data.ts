/**
 * Client bytes that arrive before the tunnel is up. Bounded: past `limit` bytes the
 * client socket is paused (TCP flow control holds the rest), so nothing is ever lost.
 */
import type * as net from 'node:net';
import type { ClientEarlyData } from '../upstream/upstream';

export const EARLY_DATA_LIMIT = 64 * 1024;

export class EarlyDataBuffer implements ClientEarlyData {
  private chunks: Buffer[] = [];
  private size = 0;
  private waiters: Array<() => void> = [];
  private detached = false;
  ended = false;
  /** Set when the client errored or closed before the tunnel came up. */
  failed: Error | undefined;

  private readonly onData = (chunk: Buffer): void => {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size >= this.limit) this.socket.pause();
    this.wake();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.wake();
  };
  private readonly onError = (err: Error): void => {
    this.failed = err;
    this.wake();
  };
  private readonly onClose = (): void => {
    if (!this.failed) this.failed = new Error('client closed');
    this.wake();
  };

  constructor(private readonly socket: net.Socket, private readonly limit = EARLY_DATA_LIMIT) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    // accepted with pauseOnConnect: readableFlowing is false until resumed explicitly
    socket.resume();
  }

  get length(): number {
    return this.size;
  }

  wait(ms: number): Promise<void> {
    if (this.size > 0 || this.ended || this.failed || this.detached) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(t);
        const i = self.waiters.indexOf(done);
        if (i >= 0) self.waiters.splice(i, 1);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  take(): Buffer {
    const out = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    this.size = 0;
    if (!this.detached && !this.ended) this.socket.resume();
    return out;
  }

  /** Puts bytes back at the front (a protocol that peeked but must not consume). */
  unshift(buf: Buffer): void {
    if (buf.length === 0) return;
    this.chunks.unshift(buf);
    this.size += buf.length;
  }

  /** Stop buffering: leaves the socket paused with no listeners of ours; returns the rest. */
  detach(): Buffer {
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    this.detached = true;
    const rest = this.size > 0 ? this.take() : Buffer.alloc(0);
    this.wake();
    return rest;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
