/**
 * winston transports for the log targets: stderr/stdout (with journald's `<N>` priority prefix
 * when the stream is the journal), append-only files written synchronously (a line survives a
 * crash; reopened on SIGHUP for logrotate), and syslog through mptcp-native (Node has no unix
 * datagram socket).
 */
import * as fs from 'node:fs';
import * as winston from 'winston';
import type TransportBase from 'winston-transport';
import { LOG_LEVELS, type LogLevel } from './levels';

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
  reopen(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * True when `fd` is the stream systemd connected to the journal: JOURNAL_STREAM holds its
 * `device:inode` (systemd.exec(5)). journald then reads a `<N>` prefix as the line's priority.
 */
export function isJournalStream(fd: number, env: NodeJS.ProcessEnv = process.env): boolean {
  const want = env.JOURNAL_STREAM;
  if (!want) return false;
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    return want === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

export class StreamTransport extends TargetTransport {
  /** `stream` writes to `fd` (1 or 2); `journal`: prefix journald's `<N>` priority. */
  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly journal: boolean,
  ) {
    super();
  }
  override log(info: LogInfo, next: () => void): void {
    this.stream.write(this.journal ? `<${LOG_LEVELS[info.level]}>${info[LINE]}\n` : `${info[LINE]}\n`);
    next();
  }
}

export class FileTransport extends TargetTransport {
  private fd = -1;
  private failed = false;
  private shut = false;
  /**
   * Opened for append, as redsocks and Dante do. A file that cannot be opened throws (redsocks
   * refuses to start), or with `warnOnly` is reported and skipped until a reopen succeeds
   * (Dante warns and runs on).
   */
  constructor(
    private readonly path: string,
    private readonly warn: (msg: string) => void,
    warnOnly = false,
  ) {
    super();
    try {
      this.fd = fs.openSync(path, 'a');
    } catch (e) {
      if (!warnOnly) throw e;
      this.warn(`cannot open log file ${path}: ${(e as Error).message}`);
    }
  }
  override log(info: LogInfo, next: () => void): void {
    if (this.fd < 0) return next();
    try {
      fs.writeSync(this.fd, `${info[LINE]}\n`);
    } catch (e) {
      // losing a message beats stopping the service (as redsocks' log.c does)
      if (!this.failed) this.warn(`cannot write log file ${this.path}: ${(e as Error).message}`);
      this.failed = true;
    }
    next();
  }
  /** logrotate moved the file away: append to a new file at the same path. */
  override reopen(): void {
    if (this.shut) return;
    let fd: number;
    try {
      fd = fs.openSync(this.path, 'a');
    } catch (e) {
      this.warn(`cannot reopen log file ${this.path}: ${(e as Error).message}; still writing the old one`);
      return;
    }
    const old = this.fd;
    this.fd = fd;
    this.failed = false;
    if (old >= 0) fs.closeSync(old);
  }
  override close(): Promise<void> {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.shut = true;
    return Promise.resolve();
  }
}

/** Hands each finished line to a function (tests, and a daemon's in-memory views). */
export class CaptureTransport extends TargetTransport {
  constructor(private readonly fn: (line: string, level: LogLevel, message: string) => void) {
    super();
  }
  override log(info: LogInfo, next: () => void): void {
    this.fn(info[LINE], info.level, info.message);
    next();
  }
}

export interface SyslogHandle {
  send(severity: string, msg: string): void;
  close(): void;
}

export class SyslogTransport extends TargetTransport {
  constructor(private readonly handle: SyslogHandle) {
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
