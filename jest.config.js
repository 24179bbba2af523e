/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
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
