export * from './relay-error';
export * from './pipe';
export * from './relay';
