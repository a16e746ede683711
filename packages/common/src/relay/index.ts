export * from './pipe';
export * from './relay';
export { SpliceBudget } from './splice-path';
