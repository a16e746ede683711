/**
 * DanteLog over `logoutput:` targets: Dante's text lines
 * (`Nov 25 17:04:21 (1795626261.585310) danted[7549]: info: ...`) or one JSON
 * object per line (`extension.logformat: json`). Syslog gets the bare text;
 * the daemon adds its own header.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { openSyslog, type SyslogSender } from 'mptcp-native';
import type { LogTarget } from '../config';
import { danteLinePrefix } from './dante-format';
import type { DanteLog } from './dante-log';

type Level = 'alert' | 'error' | 'warning' | 'notice' | 'info' | 'debug';

interface Sink {
  write(level: Level, line: string, bare: string): void;
  close(): Promise<void>;
}

function streamSink(stream: NodeJS.WritableStream, owned: boolean): Sink {
  return {
    write: (_l, line) => {
      stream.write(line);
    },
    close: () => new Promise((res) => {
      if (!owned) return res();
      (stream as WriteStream).end(() => res());
    }),
  };
}

function syslogSink(sender: SyslogSender): Sink {
  return {
    write: (level, _line, bare) => sender.send(level === 'warning' ? 'warning' : level, bare),
    close: () => {
      sender.close();
      return Promise.resolve();
    },
  };
}

export interface DanteLoggerOptions {
  format?: 'text' | 'json';
  /** -d n: debug lines on when > 0. */
  debug?: number;
  ident?: string;
  /** Extra sink for tests: receives every formatted line. */
  capture?: (line: string) => void;
}

/** Opens the targets. Throws when a file cannot be opened or syslog is unavailable. */
export function createDanteLogger(targets: LogTarget[], opts: DanteLoggerOptions = {}): DanteLog {
  const sinks: Sink[] = [];
  for (const t of targets) {
    switch (t.kind) {
      case 'stderr':
        sinks.push(streamSink(process.stderr, false));
        break;
      case 'stdout':
        sinks.push(streamSink(process.stdout, false));
        break;
      case 'file':
        sinks.push(streamSink(createWriteStream(t.path, { flags: 'a' }), true));
        break;
      case 'syslog':
        sinks.push(syslogSink(openSyslog(opts.ident ?? 'danted', t.facility)));
        break;
    }
  }
  if (opts.capture) {
    const cap = opts.capture;
    sinks.push({ write: (_l, line) => cap(line), close: () => Promise.resolve() });
  }
  const json = opts.format === 'json';
  const ident = opts.ident ?? 'danted';
  const debugOn = (opts.debug ?? 0) > 0;
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (sinks.length === 0) return;
    const now = performance.timeOrigin + performance.now();
    const line = json
      ? `${JSON.stringify({ time: new Date(Math.floor(now)).toISOString(), pid: process.pid, level, msg, ...fields })}\n`
      : `${danteLinePrefix(level, now, process.pid, ident)}${msg}\n`;
    for (const s of sinks) s.write(level, line, msg);
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
      await Promise.all(sinks.map((s) => s.close()));
    },
  };
}
