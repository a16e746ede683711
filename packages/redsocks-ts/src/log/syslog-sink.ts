/**
 * `log = "syslog:FACILITY"`: ident `redsocks`, LOG_PID, message only (as log.c does).
 * Node has no unix datagram socket, so the sender is mptcp-native's openSyslog.
 */
import { openSyslog } from 'mptcp-native';
import type { LogSink } from './redsocks-log';

export function syslogSink(facility: string, ident = 'redsocks'): LogSink {
  const h = openSyslog(ident, facility);
  return {
    write: (prio, message) => h.send(prio, message),
    close: () => h.close(),
  };
}
