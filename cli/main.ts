/**
 * The `rekey` command line: local mode on embedded backends by default, AWS mode with --aws
 * (anywhere on the line). Every failure ends with one line on stderr and a non-zero exit code
 * (see errors-to-exit.ts); after a command that changes something, one line names the system it
 * acted on (see command-effects.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { registerAuditCommand } from './commands/audit';
import { registerCacheCommands } from './commands/cache';
import { registerConsumersCommands } from './commands/consumers';
import { registerEnvelopeCommands } from './commands/envelope';
import { registerEscrowCommands } from './commands/escrow';
import { registerKeyringCommands } from './commands/keyring';
import { registerLifecycleCommands } from './commands/lifecycle';
import { registerPlanCommand } from './commands/plan';
import { registerRecordsCommands } from './commands/records';
import { registerStatusCommand } from './commands/status';
import { registerSweepCommand } from './commands/sweep';
import { registerMigrateCommand } from './commands/migrate';
import { registerAwsCommands, type AwsOpener } from './aws/register';
import { namesTarget } from './command-effects';
import { describeFailure, isClosedPipe } from './errors-to-exit';
import { applyHelp } from './help';
import { checkModeFit, splitMode, wantsVersion, type Mode } from './modes';
import { currentTarget, describeTarget, hasActed, resetTarget } from './target';

/** The local command groups, in the order `--help` lists them. */
const LOCAL_GROUPS: ReadonlyArray<(program: Command) => void> = [
  registerKeyringCommands,
  registerEnvelopeCommands,
  registerLifecycleCommands,
  registerStatusCommand,
  registerPlanCommand,
  registerSweepCommand,
  registerMigrateCommand,
  registerRecordsCommands,
  registerCacheCommands,
  registerEscrowCommands,
  registerConsumersCommands,
  registerAuditCommand,
];

/** The version in package.json (the source tree's or, from dist/, the one above it). */
function packageVersion(): string {
  for (const up of [['..'], ['..', '..']]) {
    const file = join(__dirname, ...up, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'rekey-kms' && typeof pkg.version === 'string') return pkg.version;
  }
  return 'unknown';
}

/**
 * Commander's errors as the CLI's one line: `rekey: unknown command 'stauts' (did you mean status?)`.
 * Commander writes `error: ` and puts its suggestion on a second line; both are folded in here.
 */
function oneLineError(str: string, write: (s: string) => void): void {
  const lines = str
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const reason = (lines[0] ?? 'invalid command line').replace(/^error: /, '');
  const suggestion = lines.find((l) => l.startsWith('(Did you mean'));
  write(`rekey: ${reason}${suggestion ? ` ${suggestion.replace('(Did you mean', '(did you mean')}` : ''}\n`);
}

/** Builds the command tree of local mode, or of AWS mode (exported for tests). */
export function buildProgram(mode: Mode = 'local', awsOpener?: AwsOpener): Command {
  const program = new Command('rekey')
    .description('automated key rotation: envelope encryption with versioned keys (local mode; --aws drives a deployed stack)')
    .option('--aws', 'drive a deployed rekey stack instead of the local home (anywhere on the command line)')
    .showHelpAfterError(false)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: oneLineError });
  if (mode === 'aws') {
    program
      .option('--stack <name>', 'the deployed stack (default: Rekey)')
      .option('--region <region>', 'AWS region (default: from AWS_REGION or the profile)')
      .option('--endpoint <url>', 'endpoint override for every AWS client (emulators)');
    registerAwsCommands(program, awsOpener);
  } else {
    program
      .option('--home <dir>', 'rekey home for local mode (default: $REKEY_HOME or ./.rekey)')
      .option('--now <time>', 'local mode: act as if it were this time, e.g. 2030-01-01T00:00:00Z or +8d (audited as simulated)');
    for (const register of LOCAL_GROUPS) register(program);
  }
  applyHelp(program, mode, () => buildProgram('aws'));
  return program;
}

/** The path of the command commander ran, e.g. `keyring create`. */
function pathOf(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null && c.parent !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * After a failure, whether the command may have acted. Exit codes 2 to 6 are refusals and
 * backend failures raised before the change is committed (and must stay one line); a partial
 * failure, an interruption or an unexpected error may come after part of the work.
 */
function mayHaveActed(exitCode: number): boolean {
  return exitCode === 1 || exitCode === 7 || exitCode === 130;
}

/**
 * Runs the CLI with `argv` and returns the exit code (never throws).
 *
 * @example
 * process.exitCode = await run(['--aws', 'status']);
 */
export async function run(argv: readonly string[], options: { awsOpener?: AwsOpener } = {}): Promise<number> {
  resetTarget();
  const { mode, argv: args } = splitMode(argv);
  const program = buildProgram(mode, options.awsOpener);
  let ran: string | undefined;
  program.hook('preAction', (_root, action) => {
    ran = pathOf(action);
  });
  const nameTarget = (): void => {
    const target = currentTarget();
    if (ran !== undefined && target !== undefined && namesTarget(ran)) process.stderr.write(`${describeTarget(target)}\n`);
  };
  try {
    if (args.length === 0) {
      // A bare `rekey` is a usage error: the help goes to stderr, as for any other.
      program.outputHelp({ error: true });
      return 2;
    }
    if (wantsVersion(args, program)) {
      // Not commander's .version(): a global --version would swallow `revoke --version 3`.
      process.stdout.write(`rekey ${packageVersion()}\n`);
      return 0;
    }
    checkModeFit(mode, args, { [mode]: program, [mode === 'aws' ? 'local' : 'aws']: buildProgram(mode === 'aws' ? 'local' : 'aws') } as Record<Mode, Command>);
    await program.parseAsync(args, { from: 'user' });
    nameTarget();
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed') return 0;
      // 'commander.help' is the help of a group run without a subcommand, written to stderr.
      return 2; // commander already printed its one-line reason
    }
    if (isClosedPipe(err)) {
      // The reader went away (`rekey audit | head -1`): end quietly, as cat and grep do.
      nameTarget();
      return 0;
    }
    const { line, exitCode } = describeFailure(err);
    if (mayHaveActed(exitCode) || hasActed()) nameTarget();
    process.stderr.write(`${line}\n`);
    if (process.env.REKEY_DEBUG === '1') console.error(err);
    return exitCode;
  }
}
