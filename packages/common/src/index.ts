export * from './errors';
export * from './socks';
