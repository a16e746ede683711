/**
 * winston transports for the log targets: stderr/stdout, append-only files (reopenable for
 * SIGHUP/logrotate) and syslog through mptcp-native (Node has no unix datagram socket).
 */
import { createWriteStream, WriteStream } from 'node:fs';
import * as winston from 'winston';
import type TransportBase from 'winston-transport';
import type { LogLevel } from './levels';

// winston re-exports its transport base class at runtime; the type lives in winston-transport.
const Transport = (winston as unknown as { Transport: typeof TransportBase }).Transport;

export const LINE = Symbol.for('mptcp-proxy.line');
export const BARE = Symbol.for('mptcp-proxy.bare');

export interface LogInfo {
  level: LogLevel;
  message: string;
  [LINE]: string;
  [BARE]: string;
}

export abstract class TargetTransport extends Transport {
  abstract readonly target: string;
  reopen(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export class StreamTransport extends TargetTransport {
  constructor(
    readonly target: string,
    private readonly stream: NodeJS.WritableStream,
  ) {
    super();
  }
  override log(info: LogInfo, next: () => void): void {
    this.stream.write(info[LINE] + '\n');
    next();
  }
}

export class FileTransport extends TargetTransport {
  private stream: WriteStream;
  private failed = false;
  constructor(
    readonly target: string,
    private readonly path: string,
    private readonly warn: (msg: string) => void,
  ) {
    super();
    this.stream = this.open();
  }
  private open(): WriteStream {
    const s = createWriteStream(this.path, { flags: 'a' });
    s.on('error', (e) => {
      if (!this.failed) this.warn(`cannot write log file ${this.path}: ${e.message}`);
      this.failed = true;
    });
    return s;
  }
  override log(info: LogInfo, next: () => void): void {
    if (!this.stream.destroyed) this.stream.write(info[LINE] + '\n');
    next();
  }
  override reopen(): void {
    const old = this.stream;
    this.failed = false;
    this.stream = this.open();
    old.end();
  }
  override close(): Promise<void> {
    const s = this.stream;
    if (s.destroyed || s.writableFinished) return Promise.resolve();
    return new Promise((res) => {
      s.once('error', () => res());
      s.end(() => res());
    });
  }
}

export interface SyslogHandle {
  send(severity: string, msg: string): void;
  close(): void;
}

export class SyslogTransport extends TargetTransport {
  constructor(
    readonly target: string,
    private readonly handle: SyslogHandle,
  ) {
    super();
  }
  override log(info: LogInfo, next: () => void): void {
    this.handle.send(info.level, info[BARE]);
    next();
  }
  override close(): Promise<void> {
    this.handle.close();
    return Promise.resolve();
  }
}
