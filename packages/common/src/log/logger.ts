/**
 * Logger factory over winston. Targets: 'stderr' | 'stdout' | 'file:PATH' | '/abs/path' |
 * 'syslog' | 'syslog:FACILITY' | 'syslog/FACILITY'. Daemons pass their own lineFormat (redsocks'
 * `sec.usec prio file:line func(...) msg`, Dante's `Mon DD HH:MM:SS (sec.usec) danted[pid]: ...`).
 * A disabled level costs one comparison: no string, no winston call; messages may be thunks.
 */
import * as winston from 'winston';
import { ProxyError } from '../errors';
import { LOG_LEVELS, LogLevel } from './levels';
import { BARE, FileTransport, LINE, LogInfo, StreamTransport, SyslogHandle, SyslogTransport, TargetTransport } from './transports';

export type LogMessage = string | (() => string);
export type LogMeta = Record<string, unknown>;

export interface LoggerOptions {
  targets: readonly string[];
  level?: LogLevel;
  ident?: string;
  format?: 'text' | 'json';
  /** Text line for stream/file targets, without the newline. */
  lineFormat?: (level: LogLevel, msg: string, meta?: LogMeta) => string;
  /** For tests: the syslog socket path (default /dev/log). */
  syslogPath?: string;
  /** Where the logger's own problems go (default: stderr, once per problem). */
  onWarning?: (msg: string) => void;
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
  /** Flushes and closes file and syslog targets. */
  close(): Promise<void>;
  readonly winston: winston.Logger;
}

/** `2026-11-25T17:04:00.123Z ident[pid]: level: msg` */
export function defaultLineFormat(ident: string): (level: LogLevel, msg: string) => string {
  return (level, msg) => `${new Date().toISOString()} ${ident}[${process.pid}]: ${level}: ${msg}`;
}

function jsonLine(ident: string, level: LogLevel, msg: string, meta?: LogMeta): string {
  return JSON.stringify({ time: new Date().toISOString(), level, ident, pid: process.pid, msg, ...meta });
}

type OpenSyslog = (ident: string, facility: string, opts?: { path?: string }) => SyslogHandle;

function loadOpenSyslog(): OpenSyslog {
  // Lazy: only syslog targets need the native addon.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('mptcp-native') as { openSyslog?: OpenSyslog };
  if (typeof mod.openSyslog !== 'function') throw new Error('mptcp-native has no openSyslog');
  return mod.openSyslog;
}

function makeTransport(target: string, opts: LoggerOptions, ident: string, warn: (m: string) => void): TargetTransport {
  if (target === 'stderr') return new StreamTransport(target, process.stderr);
  if (target === 'stdout') return new StreamTransport(target, process.stdout);
  if (target.startsWith('file:')) return new FileTransport(target, target.slice(5), warn);
  if (target.startsWith('/')) return new FileTransport(target, target, warn);
  const m = /^syslog(?:[:/](.+))?$/.exec(target);
  if (m) {
    const facility = (m[1] ?? 'daemon').toLowerCase();
    try {
      const handle = loadOpenSyslog()(ident, facility, opts.syslogPath ? { path: opts.syslogPath } : undefined);
      return new SyslogTransport(target, handle);
    } catch (e) {
      warn(`syslog target "${target}" unavailable (${(e as Error).message}); logging to stderr instead`);
      return new StreamTransport('stderr', process.stderr);
    }
  }
  throw new ProxyError('ELOG_TARGET', `unknown log target "${target}"`);
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
  const transports = opts.targets.map((t) => makeTransport(t, opts, ident, warn));
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
