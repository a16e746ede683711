/**
 * The lab package's public entry: what tests, benches and the demo import.
 */
export * from './paths';
export * from './wait';
export * from './fds';
export * from './netns';
export * from './topology';
export * from './daemons';
export * from './sshd';
export * from './fixtures';
export * from './profiles';
export * from './lab';
export * from './gateway';
export * from './pairs';
export * from './modes';
export * from './traffic';
export * from './scenarios';
export * from './measure';
export * from './live-view';
export * from './dns';
export * from './flows';
export * from './syslog-sink';
export * from './certs';
export * from './browser';
export * from './pages';
export * from './web-origin';
