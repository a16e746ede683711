export * from './limits';
export * from './pidfile';
export * from './daemonize';
export * from './signals';
export * from './privileges';
export * from './workers';
