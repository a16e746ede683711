/**
 * The one logging stack of both daemons, over winston. Targets are parsed LogTargets
 * (targets.ts); daemons pass their own lineFormat (redsocks' `sec.usec prio file:line func(...)
 * msg`, Dante's `Mon DD HH:MM:SS (sec.usec) danted[pid]: ...`), both stamped from logClock().
 * A disabled level costs one comparison: no string, no winston call; messages may be thunks.
 * reopen() reopens the files (SIGHUP, logrotate); a stderr/stdout that is the journal gets
 * journald's `<N>` priority prefixes.
 */
import * as winston from 'winston';
import { logClock } from './clock';
import { LOG_LEVELS, type LogLevel } from './levels';
import type { LogTarget } from './targets';
import {
  BARE, CaptureTransport, FileTransport, LINE, StreamTransport, SyslogTransport, isJournalStream,
  type LogInfo, type SyslogHandle, type TargetTransport,
} from './transports';

export type LogMessage = string | (() => string);
export type LogMeta = Record<string, unknown>;

export interface LoggerOptions {
  targets: readonly LogTarget[];
  level?: LogLevel;
  ident?: string;
  format?: 'text' | 'json';
  /** Text line for stream/file targets, without the newline. */
  lineFormat?: (level: LogLevel, msg: string, meta?: LogMeta) => string;
  /** A log file that cannot be opened: warn and run on (Dante) instead of throwing (redsocks). */
  warnOnUnopenableFile?: boolean;
  /** For tests: the syslog socket path (default /dev/log). */
  syslogPath?: string;
  /** Where the logger's own problems go (default: stderr, once per problem). */
  onWarning?: (msg: string) => void;
  /** For tests: the environment read for JOURNAL_STREAM (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Also hand every line to this function (tests); `message` is the bare text. */
  capture?: (line: string, level: LogLevel, message: string) => void;
}

export interface Logger {
  readonly level: LogLevel;
  setLevel(level: LogLevel): void;
  isLevelEnabled(level: LogLevel): boolean;
  log(level: LogLevel, msg: LogMessage, meta?: LogMeta): void;
  emerg(msg: LogMessage, meta?: LogMeta): void;
  alert(msg: LogMessage, meta?: LogMeta): void;
  crit(msg: LogMessage, meta?: LogMeta): void;
  error(msg: LogMessage, meta?: LogMeta): void;
  warning(msg: LogMessage, meta?: LogMeta): void;
  notice(msg: LogMessage, meta?: LogMeta): void;
  info(msg: LogMessage, meta?: LogMeta): void;
  debug(msg: LogMessage, meta?: LogMeta): void;
  /** Reopens file targets (SIGHUP, logrotate). */
  reopen(): void;
  /** Closes file and syslog targets (every line is written already). */
  close(): Promise<void>;
  readonly winston: winston.Logger;
}

/** `2026-11-25T17:04:00.123Z ident[pid]: level: msg` */
export function defaultLineFormat(ident: string): (level: LogLevel, msg: string) => string {
  return (level, msg) => `${new Date(logClock()).toISOString()} ${ident}[${process.pid}]: ${level}: ${msg}`;
}

/** One JSON object per line (socks-server's `extension.logformat: json`). */
export function jsonLine(ident: string, level: LogLevel, msg: string, meta?: LogMeta): string {
  return JSON.stringify({ time: new Date(logClock()).toISOString(), level, ident, pid: process.pid, msg, ...meta });
}

type OpenSyslog = (ident: string, facility: string, opts?: { path?: string }) => SyslogHandle;

function loadOpenSyslog(): OpenSyslog {
  // Lazy: only syslog targets need the native addon.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('mptcp-native') as { openSyslog?: OpenSyslog };
  if (typeof mod.openSyslog !== 'function') throw new Error('mptcp-native has no openSyslog');
  return mod.openSyslog;
}

function makeTransport(target: LogTarget, opts: LoggerOptions, ident: string, warn: (m: string) => void): TargetTransport {
  const env = opts.env ?? process.env;
  switch (target.kind) {
    case 'stderr':
      return new StreamTransport(process.stderr, isJournalStream(2, env));
    case 'stdout':
      return new StreamTransport(process.stdout, isJournalStream(1, env));
    case 'file':
      return new FileTransport(target.path, warn, opts.warnOnUnopenableFile === true);
    case 'syslog':
      try {
        const handle = loadOpenSyslog()(ident, target.facility, opts.syslogPath ? { path: opts.syslogPath } : undefined);
        return new SyslogTransport(handle);
      } catch (e) {
        warn(`syslog target "syslog:${target.facility}" unavailable (${(e as Error).message}); logging to stderr instead`);
        return new StreamTransport(process.stderr, isJournalStream(2, env));
      }
  }
}

export function createLogger(opts: LoggerOptions): Logger {
  const ident = opts.ident ?? 'mptcp-proxy';
  const json = opts.format === 'json';
  const lineFormat = opts.lineFormat ?? defaultLineFormat(ident);
  const warned = new Set<string>();
  const warn =
    opts.onWarning ??
    ((msg: string): void => {
      if (warned.has(msg)) return;
      warned.add(msg);
      process.stderr.write(`${ident}: ${msg}\n`);
    });
  const transports: TargetTransport[] = [];
  try {
    for (const t of opts.targets) transports.push(makeTransport(t, opts, ident, warn));
    if (opts.capture) transports.push(new CaptureTransport(opts.capture));
  } catch (e) {
    for (const t of transports) void t.close();
    throw e;
  }
  let level: LogLevel = opts.level ?? 'info';
  let threshold = LOG_LEVELS[level];
  const w = winston.createLogger({
    levels: LOG_LEVELS,
    level: 'debug', // filtering happens before winston is called
    format: winston.format((i) => i)(),
    transports,
    exitOnError: false,
  });

  const log = (lvl: LogLevel, msg: LogMessage, meta?: LogMeta): void => {
    if (LOG_LEVELS[lvl] > threshold) return;
    const text = typeof msg === 'function' ? msg() : msg;
    const line = json ? jsonLine(ident, lvl, text, meta) : lineFormat(lvl, text, meta);
    const info: LogInfo = { level: lvl, message: text, [LINE]: line, [BARE]: json ? line : text };
    w.log(info as unknown as winston.LogEntry);
  };

  return {
    get level() {
      return level;
    },
    setLevel(l: LogLevel) {
      level = l;
      threshold = LOG_LEVELS[l];
    },
    isLevelEnabled: (l) => LOG_LEVELS[l] <= threshold,
    log,
    emerg: (m, meta) => log('emerg', m, meta),
    alert: (m, meta) => log('alert', m, meta),
    crit: (m, meta) => log('crit', m, meta),
    error: (m, meta) => log('error', m, meta),
    warning: (m, meta) => log('warning', m, meta),
    notice: (m, meta) => log('notice', m, meta),
    info: (m, meta) => log('info', m, meta),
    debug: (m, meta) => log('debug', m, meta),
    reopen: () => transports.forEach((t) => t.reopen()),
    close: async () => {
      await Promise.all(transports.map((t) => t.close()));
      w.close();
    },
    winston: w,
  };
}
