export * from './levels';
export * from './clock';
export * from './targets';
export * from './logger';
export { isJournalStream } from './transports';
