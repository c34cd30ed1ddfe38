#!/usr/bin/env node
/** Entry point of the `rekey` CLI. */
import { quietSdkNodeVersionWarning } from '../cli/quiet-warnings';

quietSdkNodeVersionWarning();
// Loaded after the filter, so the SDK's load-time warning is filtered too.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { run } = require('../cli/main') as typeof import('../cli/main');

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 1;
  },
);
