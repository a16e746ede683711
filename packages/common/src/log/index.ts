export * from './levels';
export * from './logger';
