/**
 * redsocks' log.c line format and priority filter. Lines on stderr / file look like
 * `<sec>.<usec6> <prio> <file.c>:<line> <func>(...) <message>`; syslog gets the message only.
 * Disabled levels cost one comparison (no string is built).
 */
import * as fs from 'node:fs';

export type Priority = 'emerg' | 'alert' | 'crit' | 'err' | 'warning' | 'notice' | 'info' | 'debug';

export const PRIORITY_VALUE: Record<Priority, number> = {
  emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7,
};

/** One destination for finished messages. */
export interface LogSink {
  write(prio: Priority, message: string, where: string): void;
  close(): void;
}

export interface RedsocksLog {
  /** True when a message at `prio` would be written. */
  enabled(prio: Priority): boolean;
  log(prio: Priority, message: string, where?: string): void;
  debug(message: string, where?: string): void;
  info(message: string, where?: string): void;
  notice(message: string, where?: string): void;
  warning(message: string, where?: string): void;
  error(message: string, where?: string): void;
  setLevels(levels: { debug: boolean; info: boolean }): void;
  close(): void;
}

function stamp(): string {
  const ms = Date.now();
  const ns = process.hrtime.bigint() % 1000n;
  const usec = (ms % 1000) * 1000 + Number(ns);
  return `${Math.floor(ms / 1000)}.${String(usec).padStart(6, '0')}`;
}

/** Formats a redsocks-style line for stream targets. */
export function formatLine(prio: Priority, message: string, where = 'redsocks.c:0 main(...)'): string {
  return `${stamp()} ${prio} ${where} ${message}\n`;
}

export function streamSink(stream: NodeJS.WritableStream): LogSink {
  return {
    write: (prio, message, where) => {
      stream.write(formatLine(prio, message, where));
    },
    close: () => undefined,
  };
}

/** `file:PATH`, opened for append as redsocks does; writes are synchronous so lines survive a crash. */
export function fileSink(path: string): LogSink {
  const fd = fs.openSync(path, 'a');
  return {
    write: (prio, message, where) => {
      try {
        fs.writeSync(fd, formatLine(prio, message, where));
      } catch {
        // losing a message beats stopping the service (as log.c does)
      }
    },
    close: () => fs.closeSync(fd),
  };
}

/** Collects lines in memory (tests, and the pre-config phase). */
export function memorySink(lines: string[]): LogSink {
  return {
    write: (prio, message) => {
      lines.push(`${prio} ${message}`);
    },
    close: () => undefined,
  };
}

export function createRedsocksLog(sink: LogSink, levels = { debug: false, info: false }): RedsocksLog {
  let max = PRIORITY_VALUE.notice;
  const set = (l: { debug: boolean; info: boolean }): void => {
    max = l.debug ? PRIORITY_VALUE.debug : l.info ? PRIORITY_VALUE.info : PRIORITY_VALUE.notice;
  };
  set(levels);
  const log = (prio: Priority, message: string, where?: string): void => {
    if (PRIORITY_VALUE[prio] <= max) sink.write(prio, message, where ?? 'redsocks.c:0 redsocks(...)');
  };
  return {
    enabled: (prio) => PRIORITY_VALUE[prio] <= max,
    log,
    debug: (m, w) => log('debug', m, w),
    info: (m, w) => log('info', m, w),
    notice: (m, w) => log('notice', m, w),
    warning: (m, w) => log('warning', m, w),
    error: (m, w) => log('err', m, w),
    setLevels: set,
    close: () => sink.close(),
  };
}
