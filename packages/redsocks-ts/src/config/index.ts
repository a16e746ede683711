export * from './types';
export { parseRedsocksConfig, loadRedsocksConfig } from './load';
export { parseLogTarget, SYSLOG_FACILITIES } from './log-target';
export { defaultConnMax, effectiveConnMax } from './conn-max';
