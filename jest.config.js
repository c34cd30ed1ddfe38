/** Jest: SWC transpiles TypeScript (type-checking is `npm run typecheck`), and Middy's ESM. */
/**
 * The package's published names (package.json "exports") mapped to their sources, so the example
 * applications (examples/) import 'rekey-kms/...' exactly as an application team does.
 */
const REKEY_KMS = {
  '^rekey-kms$': '<rootDir>/shared/app/client.ts',
  '^rekey-kms/client$': '<rootDir>/shared/app/client.ts',
  '^rekey-kms/middleware$': '<rootDir>/shared/app/middleware.ts',
  '^rekey-kms/construct$': '<rootDir>/infra/index.ts',
  '^rekey-kms/cli$': '<rootDir>/cli/main.ts',
  '^rekey-kms/migrate$': '<rootDir>/shared/migrate/index.ts',
};

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j|mj)s$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@middy)/)'],
  moduleNameMapper: REKEY_KMS,
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  setupFiles: ['<rootDir>/test/support/setup-env.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
};
