/** syslog(3) priorities, as both daemons use them (lower = more severe). */
export type LogLevel = 'emerg' | 'alert' | 'crit' | 'error' | 'warning' | 'notice' | 'info' | 'debug';

export const LOG_LEVELS: Readonly<Record<LogLevel, number>> = Object.freeze({
  emerg: 0,
  alert: 1,
  crit: 2,
  error: 3,
  warning: 4,
  notice: 5,
  info: 6,
  debug: 7,
});

export function isLogLevel(s: string): s is LogLevel {
  return Object.prototype.hasOwnProperty.call(LOG_LEVELS, s);
}
