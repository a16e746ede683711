export * from './errors';
export * from './socks';
export * from './relay';
export * from './log';
export * from './daemon';
