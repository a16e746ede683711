export * from './pipe';
export * from './relay';
