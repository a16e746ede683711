/**
 * DanteLog over the common logger factory (winston): `logoutput:` targets,
 * Dante's text lines (`Nov 25 17:04:21 (1795626261.585310) danted[7549]: info: ...`)
 * or one JSON object per line (`extension.logformat: json`). Syslog gets the
 * bare text; syslogd adds its own header.
 */
import { createLogger, type LogLevel, type LogMeta } from '@mptcp-proxy/common';
import type { LogTarget } from '../config';
import { danteLinePrefix } from './dante-format';
import type { DanteLog } from './dante-log';

export interface DanteLoggerOptions {
  format?: 'text' | 'json';
  /** -d n: debug lines on when > 0. */
  debug?: number;
  ident?: string;
  /** Extra sink for tests: receives every formatted line. */
  capture?: (line: string) => void;
}

function targetString(t: LogTarget): string {
  switch (t.kind) {
    case 'stderr':
    case 'stdout':
      return t.kind;
    case 'file':
      return `file:${t.path}`;
    case 'syslog':
      return `syslog:${t.facility}`;
  }
}

export function createDanteLogger(targets: LogTarget[], opts: DanteLoggerOptions = {}): DanteLog {
  const ident = opts.ident ?? 'danted';
  const json = opts.format === 'json';
  const debugOn = (opts.debug ?? 0) > 0;
  const lineFormat = (level: LogLevel, msg: string): string =>
    `${danteLinePrefix(level, performance.timeOrigin + performance.now(), process.pid, ident)}${msg}`;
  const inner = targets.length > 0
    ? createLogger({ targets: targets.map(targetString), ident, format: json ? 'json' : 'text', level: debugOn ? 'debug' : 'info', lineFormat })
    : undefined;
  const cap = opts.capture;
  let closed = false;
  const emit = (level: LogLevel, msg: string, meta?: LogMeta): void => {
    if (closed) return;
    inner?.log(level, msg, meta);
    if (cap) {
      cap(json ? JSON.stringify({ time: new Date().toISOString(), level, ident, pid: process.pid, msg, ...meta })
        : lineFormat(level, msg));
    }
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
    close: async () => {
      if (closed) return;
      closed = true;
      await inner?.close();
    },
  };
}
