export { startServer, SocksServer } from './server';
export type { StartOptions, ListenAddress } from './server';
export type { DanteLog } from './log/dante-log';
export { nullLog } from './log/dante-log';
export { loadDantedConfig, parseDantedConfig, defaultConfig, matchRule } from './config';
export type { DantedConfig, Rule, LoadResult, ConfigWarning, MatchContext, RuleAddress } from './config';
export { loadPasswordFile } from './auth/password-file';
export { selectMethod } from './session/method-select';
export type { OcLimits } from './runtime';
