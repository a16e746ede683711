export * from './errors';
export * from './socks';
export * from './relay';
export * from './log';
