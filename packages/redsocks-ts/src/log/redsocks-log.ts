/**
 * redsocks' log.c line format and priority filter, on common's logging stack (winston).
 * Lines on stderr / file look like `<sec>.<usec6> <prio> <file.c>:<line> <func>(...) <message>`,
 * stamped from common's logClock(); syslog (ident `redsocks-ts`, or `syslog_ident`) gets the message only.
 * Disabled levels cost one comparison (no string is built).
 */
import { createLogger, logClock, secUsecStamp, type LogLevel, type LogTarget, type Logger } from '@mptcp-proxy/common';

export type Priority = 'emerg' | 'alert' | 'crit' | 'err' | 'warning' | 'notice' | 'info' | 'debug';

/** redsocks' priority names (log.c's `err`) on common's syslog levels (`error`). */
const LEVEL: Record<Priority, LogLevel> = {
  emerg: 'emerg', alert: 'alert', crit: 'crit', err: 'error', warning: 'warning', notice: 'notice', info: 'info', debug: 'debug',
};
const PRIORITY: Record<LogLevel, Priority> = {
  emerg: 'emerg', alert: 'alert', crit: 'crit', error: 'err', warning: 'warning', notice: 'notice', info: 'info', debug: 'debug',
};

/** The `<file.c>:<line> <func>(...)` column when a caller names none. */
const DEFAULT_WHERE = 'redsocks.c:0 redsocks(...)';

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
  /** Reopens the log file (SIGHUP, logrotate). */
  reopen(): void;
  close(): Promise<void>;
}

/** Formats a redsocks-style line for stream targets (without the newline). */
export function formatLine(prio: Priority, message: string, where = 'redsocks.c:0 main(...)', now = logClock()): string {
  return `${secUsecStamp(now)} ${prio} ${where} ${message}`;
}

export interface RedsocksLogOptions {
  /** log_debug / log_info (notice and above are always written). */
  levels?: { debug: boolean; info: boolean };
  /** Also hand every message to this function (tests). */
  capture?: (prio: Priority, message: string) => void;
  /** For tests: the syslog socket (default /dev/log). */
  syslogPath?: string;
  /** The syslog ident (`syslog_ident`, default redsocks-ts). */
  ident?: string;
}

function levelFor(l: { debug: boolean; info: boolean }): LogLevel {
  return l.debug ? 'debug' : l.info ? 'info' : 'notice';
}

/** The daemon's log: `targets` is what `log = "..."` names (none: only `capture`). */
export function createRedsocksLog(targets: readonly LogTarget[], opts: RedsocksLogOptions = {}): RedsocksLog {
  const capture = opts.capture;
  const inner: Logger = createLogger({
    targets,
    ident: opts.ident ?? 'redsocks-ts',
    level: levelFor(opts.levels ?? { debug: false, info: false }),
    lineFormat: (level, message, meta) => formatLine(PRIORITY[level], message, (meta?.where as string | undefined) ?? DEFAULT_WHERE),
    capture: capture ? (_line, level, message) => capture(PRIORITY[level], message) : undefined,
    syslogPath: opts.syslogPath,
  });
  const log = (prio: Priority, message: string, where?: string): void => {
    const level = LEVEL[prio];
    if (inner.isLevelEnabled(level)) inner.log(level, message, where === undefined ? undefined : { where });
  };
  return {
    enabled: (prio) => inner.isLevelEnabled(LEVEL[prio]),
    log,
    debug: (m, w) => log('debug', m, w),
    info: (m, w) => log('info', m, w),
    notice: (m, w) => log('notice', m, w),
    warning: (m, w) => log('warning', m, w),
    error: (m, w) => log('err', m, w),
    setLevels: (l) => inner.setLevel(levelFor(l)),
    reopen: () => inner.reopen(),
    close: () => inner.close(),
  };
}
