export * from './errors';
export * from './receive-buffer';
export * from './socks';
export * from './relay';
export * from './log';
export * from './daemon';
export * from './metrics/serve';
export * from './metrics/parse';
