/**
 * A syslog sender: RFC 3164 lines (`<PRI>Mmm dd hh:mm:ss ident[pid]: msg`) as datagrams to
 * /dev/log. Node has no unix datagram sockets, so the socket comes from the addon.
 */
import { invalid } from './errors';
import { requireNative } from './native';

export const FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  authpriv: 10, ftp: 11, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21,
  local6: 22, local7: 23,
};

export const SEVERITIES: Record<string, number> = {
  emerg: 0, alert: 1, crit: 2, err: 3, error: 3, warning: 4, warn: 4, notice: 5, info: 6, debug: 7,
};

export type Severity = number | keyof typeof SEVERITIES | string;

export interface SyslogSender {
  send(severity: Severity, msg: string): void;
  close(): void;
  /** Datagrams that could not be delivered (reader gone or too slow). */
  readonly dropped: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => String(n).padStart(2, '0');

/** RFC 3164 timestamp in local time: "Nov  5 07:08:09" (day padded with a space). */
export function syslogTimestamp(d: Date): string {
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

export function formatSyslog(pri: number, ident: string, pid: number, msg: string, now = new Date()): string {
  return `<${pri}>${syslogTimestamp(now)} ${ident}[${pid}]: ${msg}`;
}

function code(table: Record<string, number>, v: number | string, what: string, max: number): number {
  const n = typeof v === 'number' ? v : table[v.toLowerCase()];
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > max) throw invalid(`syslog: unknown ${what} ${String(v)}`);
  return n;
}

/** Errors after which reconnecting may help (syslogd restarted and re-created the socket). */
const RECONNECT = new Set(['ECONNREFUSED', 'ENOTCONN', 'ENOENT']);

/**
 * Like syslog(3), a missing /dev/log is not an error: each send() retries the connect and
 * counts what it could not deliver in `dropped`. With `strict`, a failed first connect throws.
 */
export function openSyslog(ident: string, facility: number | string = 'daemon', opts: { path?: string; strict?: boolean } = {}): SyslogSender {
  const b = requireNative('openSyslog');
  const fac = code(FACILITIES, facility, 'facility', 23);
  const path = opts.path ?? '/dev/log';
  let fd: number | null = null;
  try {
    fd = b.unixDgramOpen(path);
  } catch (e) {
    if (opts.strict) throw e;
  }
  let dropped = 0;
  const write = (data: Buffer): void => {
    if (fd === null) fd = b.unixDgramOpen(path);
    b.unixDgramSend(fd, data);
  };
  return {
    send(severity: Severity, msg: string): void {
      const sev = code(SEVERITIES, severity, 'severity', 7);
      const data = Buffer.from(formatSyslog(fac * 8 + sev, ident, process.pid, msg));
      try {
        write(data);
      } catch (e) {
        if (fd !== null && RECONNECT.has((e as NodeJS.ErrnoException).code ?? '')) {
          try {
            b.close(fd);
          } catch {
            // already gone
          }
          fd = null;
          try {
            write(data);
            return;
          } catch {
            // fall through: count it
          }
        }
        dropped++;
      }
    },
    close(): void {
      if (fd !== null) b.close(fd);
      fd = null;
    },
    get dropped(): number {
      return dropped;
    },
  };
}
