/**
 * Jest for the example applications alone (the root configuration maps the package's names
 * to the sources; `npm test` runs these too). Run: npx jest -c test/examples/jest.config.js --runInBand
 */
const root = require('../../jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...root,
  rootDir: '../..',
  testMatch: ['<rootDir>/test/examples/**/*.test.ts', '<rootDir>/test/twin/scenarios/example-app.test.ts'],
};
