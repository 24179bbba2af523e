/** @type {import('jest').Config} */
module.exports = {
  // Console output is kept per test and printed only for a failing test (EMBEDGATE_TEST_LOGS=1: all of it).
  testEnvironment: '<rootDir>/test/support/quiet-environment.js',
  globalSetup: '<rootDir>/test/support/global-setup.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.[tj]sx?$': ['ts-jest', { tsconfig: 'tsconfig.jest.json', diagnostics: false }],
  },
  // jose and @middy/core are ESM-only: let ts-jest turn them into CommonJS for jest's module system.
  transformIgnorePatterns: ['/node_modules/(?!(@middy|jose)/)'],
  // The CLI's lazy `import('./x.js')` (compiled CommonJS) names the .ts source in tests.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 30000,
};
