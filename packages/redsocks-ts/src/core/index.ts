export { startRedsocks, initWarnings } from './daemon';
export type { RedsocksHandle, StartOptions, ClientInfo } from './daemon';
export { EARLY_DATA_LIMIT } from './client';
