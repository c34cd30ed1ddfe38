/**
 * The `rekey` command line: local mode on embedded backends by default, AWS mode with --aws.
 * Every failure ends with one line on stderr and a non-zero exit code (see errors-to-exit.ts).
 */
import { Command, CommanderError } from 'commander';
import { registerLocalCommands } from './local-commands';
import { describeFailure } from './errors-to-exit';

/** Builds the command tree (exported for tests). */
export function buildProgram(): Command {
  const program = new Command('rekey')
    .description('automated key rotation: envelope encryption with versioned keys (local mode; --aws drives a deployed stack)')
    .option('--home <dir>', 'rekey home for local mode (default $REKEY_HOME or ./.rekey)')
    .option('--now <iso-time>', 'local mode: act as if it were this time (every lifecycle decision)')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str.split('\n')[0] + '\n') });
  registerLocalCommands(program);
  return program;
}

/** Runs the CLI with `argv` and returns the exit code (never throws). */
export async function run(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2; // commander already printed its one-line reason
    }
    const { line, exitCode } = describeFailure(err);
    process.stderr.write(`${line}\n`);
    if (process.env.REKEY_DEBUG === '1') console.error(err);
    return exitCode;
  }
}
