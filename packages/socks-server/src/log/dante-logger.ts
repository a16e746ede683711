/**
 * DanteLog over the common logging stack (winston): `logoutput:` targets,
 * Dante's text lines (`Nov 25 17:04:21 (1795626261.585310) danted[7549]: info: ...`)
 * or one JSON object per line (`extension.logformat: json`). Syslog gets the
 * bare text; syslogd adds its own header. A log file that cannot be opened is warned
 * about and skipped, as Dante does. `errorlog:` targets get the error-level lines
 * (Dante: "error-related logoutput", not client events, which are info lines).
 */
import { createLogger, logClock, type LogLevel, type LogMeta } from '@mptcp-proxy/common';
import type { LogTarget } from '../config';
import { danteLinePrefix } from './dante-format';
import type { DanteLog } from './dante-log';

export interface DanteLoggerOptions {
  /** `errorlog:` targets: error-level lines (not client events) go there as well. */
  errorTargets?: LogTarget[];
  format?: 'text' | 'json';
  /** -d n: debug lines on when > 0. */
  debug?: number;
  /** The syslog (and JSON) ident, default socks-server; text lines keep Dante's `danted[pid]`. */
  ident?: string;
  /** For tests: the syslog socket (default /dev/log). */
  syslogPath?: string;
  /** Extra sink for tests: receives every formatted line. */
  capture?: (line: string) => void;
}

export function createDanteLogger(targets: LogTarget[], opts: DanteLoggerOptions = {}): DanteLog {
  const ident = opts.ident ?? 'socks-server';
  const json = opts.format === 'json';
  const debugOn = (opts.debug ?? 0) > 0;
  const lineFormat = (level: LogLevel, msg: string): string => `${danteLinePrefix(level, logClock(), process.pid)}${msg}`;
  const cap = opts.capture;
  const inner = targets.length > 0 || cap
    ? createLogger({
      targets, ident, format: json ? 'json' : 'text', level: debugOn ? 'debug' : 'info', lineFormat,
      warnOnUnopenableFile: true, capture: cap && ((line) => cap(line)), syslogPath: opts.syslogPath,
    })
    : undefined;
  const errors = (opts.errorTargets ?? []).length > 0
    ? createLogger({ targets: opts.errorTargets!, ident, format: json ? 'json' : 'text', level: 'error', lineFormat, warnOnUnopenableFile: true })
    : undefined;
  let closed = false;
  const emit = (level: LogLevel, msg: string, meta?: LogMeta): void => {
    if (closed) return;
    inner?.log(level, msg, meta);
    errors?.log(level, msg, meta);
  };
  return {
    alert: (m, f) => emit('alert', m, f),
    error: (m, f) => emit('error', m, f),
    warn: (m, f) => emit('warning', m, f),
    notice: (m, f) => emit('notice', m, f),
    info: (m, f) => emit('info', m, f),
    debug: (m, f) => {
      if (debugOn) emit('debug', m, f);
    },
    debugEnabled: debugOn,
    reopen: () => {
      inner?.reopen();
      errors?.reopen();
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await Promise.all([inner?.close(), errors?.close()]);
    },
  };
}
