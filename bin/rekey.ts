#!/usr/bin/env node
/** Entry point of the `rekey` CLI. */
import { quietSdkNodeVersionWarning } from '../cli/quiet-warnings';

quietSdkNodeVersionWarning();
// Loaded after the filter, so the SDK's load-time warning is filtered too.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { run } = require('../cli/main') as typeof import('../cli/main');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { describeFailure, isClosedPipe } = require('../cli/errors-to-exit') as typeof import('../cli/errors-to-exit');

// A write to stdout that fails is also emitted as an 'error' event; with no listener it would
// end the process with a stack trace. A closed pipe (`rekey audit | head -1`) ends quietly, as
// cat does (the pending write's own callback ends the command). Any other failure (a full disk
// behind a redirect) is reported by the command that awaited the write, or here when nobody did
// (commander's help).
let unreported: Error | undefined;
process.stdout.on('error', (err: Error) => {
  if (!isClosedPipe(err)) unreported ??= err;
});
// Nowhere is left to report a failure of stderr itself (its reader went away): do not crash on it.
process.stderr.on('error', () => undefined);

run(process.argv.slice(2)).then(
  (code) => {
    if (code === 0 && unreported !== undefined) {
      const { line, exitCode } = describeFailure(unreported);
      process.stderr.write(`${line}\n`);
      process.exitCode = exitCode;
      return;
    }
    process.exitCode = code;
  },
  () => {
    process.exitCode = 1;
  },
);
