export * from './pipe';
export * from './relay';
export { DEFAULT_SPLICE_POLICY, SpliceBudget, splicePolicyFromEnv } from './splice-path';
export type { SplicePolicy } from './splice-path';
