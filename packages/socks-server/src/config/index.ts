export * from './types';
export { defaultConfig, defaultTimeouts, defaultExtensions, DEFAULT_INTERNAL_PORT } from './defaults';
export { parseDantedConfig, loadDantedConfig } from './parser';
export { matchRule, matchClientRules, matchSocksRules } from './matcher';
