/** One jest run for every package. Tests that own namespaces or fixed ports
 * must not overlap, so CI runs with --runInBand. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/tests'],
  testMatch: ['**/test/**/*.test.ts', '**/tests/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json', diagnostics: false }] },
  moduleNameMapper: {
    '^mptcp-native$': '<rootDir>/packages/mptcp-native/src/index.ts',
    '^@mptcp-proxy/common$': '<rootDir>/packages/common/src/index.ts',
    '^socks-server$': '<rootDir>/packages/socks-server/src/index.ts',
    '^redsocks-ts$': '<rootDir>/packages/redsocks-ts/src/index.ts',
    '^@mptcp-proxy/lab$': '<rootDir>/packages/lab/src/index.ts',
  },
  testTimeout: 60000,
  globalSetup: '<rootDir>/tests/helpers/global-setup.ts',
};
