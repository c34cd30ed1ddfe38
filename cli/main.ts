/**
 * The `rekey` command line: local mode on embedded backends by default, AWS mode with --aws.
 * Every failure ends with one line on stderr and a non-zero exit code (see errors-to-exit.ts).
 */
import { Command, CommanderError } from 'commander';
import { registerAuditCommand } from './commands/audit';
import { registerCacheCommands } from './commands/cache';
import { registerEnvelopeCommands } from './commands/envelope';
import { registerEscrowCommands } from './commands/escrow';
import { registerKeyringCommands } from './commands/keyring';
import { registerLifecycleCommands } from './commands/lifecycle';
import { registerRecordsCommands } from './commands/records';
import { registerStatusCommand } from './commands/status';
import { registerSweepCommand } from './commands/sweep';
import { registerAwsCommands, type AwsOpener } from './aws/register';
import { describeFailure } from './errors-to-exit';

/** True when `--aws` comes before the subcommand: the command tree is then AWS mode's. */
function wantsAws(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--aws') return true;
    if (!a.startsWith('-')) return false;
  }
  return false;
}

/** The local command groups, in the order `--help` lists them. */
const LOCAL_GROUPS: ReadonlyArray<(program: Command) => void> = [
  registerKeyringCommands,
  registerEnvelopeCommands,
  registerLifecycleCommands,
  registerStatusCommand,
  registerSweepCommand,
  registerRecordsCommands,
  registerCacheCommands,
  registerEscrowCommands,
  registerAuditCommand,
];

/** Builds the command tree of local mode, or of AWS mode (exported for tests). */
export function buildProgram(mode: 'local' | 'aws' = 'local', awsOpener?: AwsOpener): Command {
  const program = new Command('rekey')
    .description('automated key rotation: envelope encryption with versioned keys (local mode; --aws drives a deployed stack)')
    .option('--aws', 'drive a deployed rekey stack instead of the local home')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str.split('\n')[0] + '\n') });
  if (mode === 'aws') {
    program
      .option('--stack <name>', 'the deployed stack (default Rekey)')
      .option('--region <region>', 'AWS region (default from the environment)')
      .option('--endpoint <url>', 'endpoint override for every AWS client (emulators)');
    registerAwsCommands(program, awsOpener);
  } else {
    program
      .option('--home <dir>', 'rekey home for local mode (default $REKEY_HOME or ./.rekey)')
      .option('--now <iso-time>', 'local mode: act as if it were this time (every lifecycle decision)');
    for (const register of LOCAL_GROUPS) register(program);
  }
  return program;
}

/** Runs the CLI with `argv` and returns the exit code (never throws). */
export async function run(argv: readonly string[], options: { awsOpener?: AwsOpener } = {}): Promise<number> {
  const program = buildProgram(wantsAws(argv) ? 'aws' : 'local', options.awsOpener);
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
