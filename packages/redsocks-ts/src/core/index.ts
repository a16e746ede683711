export { startRedsocks, initWarnings } from './daemon';
export type { RedsocksHandle, StartOptions, ClientInfo } from './daemon';
export { EarlyDataBuffer, EARLY_DATA_LIMIT } from './early-data';
export { readReply, writeAll } from './read-reply';
