export * from './errors';
export * from './socks';
export * from './relay';
