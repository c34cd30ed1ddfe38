#!/usr/bin/env node
/** Entry point of the `rekey` CLI. */
import { run } from '../cli/main';

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 1;
  },
);
