export * from './types';
export { defaultConfig, defaultTimeouts, defaultExtensions, DEFAULT_INTERNAL_PORT } from './defaults';
export { parseDantedConfig, loadDantedConfig, DANTED_ERROR_CODES, type ParseOptions } from './parser';
export { matchRule, matchClientRules, matchSocksRules, ruleMatches, addressMatches } from './matcher';
export { HostLookups, type SystemLookups } from './system-lookup';
