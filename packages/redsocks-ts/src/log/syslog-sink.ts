/**
 * `log = "syslog:FACILITY"`: ident `redsocks`, LOG_PID, message only (as log.c does).
 * Node has no unix datagram socket, so the sender is mptcp-native's openSyslog.
 */
import * as native from 'mptcp-native';
import type { LogSink, Priority } from './redsocks-log';

interface SyslogHandle {
  send(severity: number | string, msg: string): void;
  close(): void;
}
type OpenSyslog = (ident: string, facility: string) => SyslogHandle;

const SEVERITY: Record<Priority, number> = {
  emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7,
};

export function syslogSink(facility: string, ident = 'redsocks'): LogSink {
  const open = (native as unknown as { openSyslog?: OpenSyslog }).openSyslog;
  if (typeof open !== 'function') throw new Error('syslog needs mptcp-native openSyslog, which is not available');
  const h = open(ident, facility);
  return {
    write: (prio, message) => h.send(SEVERITY[prio], message),
    close: () => h.close(),
  };
}
