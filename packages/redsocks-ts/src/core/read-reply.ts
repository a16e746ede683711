/**
 * Reads from a socket until `parse` recognises a complete message. Survives split and
 * coalesced segments: `parse` sees everything received so far and returns null for
 * "need more". Bytes past the message come back as `rest` (they belong to the client);
 * `raw` is everything read.
 */
import type * as net from 'node:net';
import { ProxyError } from '@mptcp-proxy/common';

export interface Parsed {
  /** Bytes the message used. */
  length: number;
}

export function readReply<T extends Parsed>(
  socket: net.Socket,
  parse: (buf: Buffer) => T | null,
  maxBytes = 65536,
): Promise<{ value: T; rest: Buffer; raw: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onEnd);
      socket.pause();
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let v: T | null;
      try {
        v = parse(buf);
      } catch (err) {
        cleanup();
        reject(err);
        return;
      }
      if (v) {
        cleanup();
        resolve({ value: v, rest: buf.subarray(v.length), raw: buf });
      } else if (buf.length > maxBytes) {
        cleanup();
        reject(new ProxyError('EREPLYTOOLONG', "Can't get expected amount of data"));
      }
    };
    const onEnd = (): void => {
      cleanup();
      reject(new ProxyError('EUPSTREAMEOF', "Can't get expected amount of data"));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
    socket.resume();
  });
}

/** Write and resolve when flushed to the kernel (or reject on error). */
export function writeAll(socket: net.Socket, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(data, (err) => (err ? reject(err) : resolve()));
  });
}
