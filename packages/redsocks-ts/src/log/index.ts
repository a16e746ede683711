export * from './redsocks-log';
export { syslogSink } from './syslog-sink';
export { connLogger, connPrefix } from './conn-log';
export type { FullConnLogger } from './conn-log';
