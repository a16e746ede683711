export * from './redsocks-log';
export { connLogger, connPrefix } from './conn-log';
export type { FullConnLogger } from './conn-log';
