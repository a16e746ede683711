export * from './types';
export { defaultConfig, defaultTimeouts, defaultExtensions, DEFAULT_INTERNAL_PORT } from './defaults';
export { parseDantedConfig, loadDantedConfig, DANTED_ERROR_CODES } from './parser';
export { matchRule, matchClientRules, matchSocksRules, ruleMatches, addressMatches } from './matcher';
