/**
 * How a local command reaches the rekey home: opens it from the global options (--home, --now;
 * $REKEY_HOME, $REKEY_REDIS_URL and $REKEY_CATALOG_TTL_MS are read by openLocal's configuration),
 * runs one thing, and closes it.
 */
import type { Command } from 'commander';
import { openLocal, type LocalServices } from '../shared/compose/local/local-services';
import { parseInstant } from './parse';
import { noteActed, noteTarget } from './target';

/** Global options every local command sees. */
interface GlobalOptions {
  readonly home?: string;
  readonly now?: string;
}

/** Options of {@link withLocal}. */
export interface WithLocalOptions {
  /**
   * Act at this (simulated) time, already parsed by the command (`tick --at`); wins over --now.
   * Every audit event of the run is then marked simulated.
   */
  readonly at?: Date;
  /**
   * Make the home when it does not exist yet. Only `keyring create` passes it: every other
   * command refuses a missing home and creates nothing. @default false
   */
  readonly create?: boolean;
}

/**
 * The clock fixed by `opts.at` or the global --now (a relative `--now +8d` counts from the real
 * current time), or undefined for real time.
 *
 * @example
 * simulatedTime(cmd); // Date of --now, or undefined
 * @throws ValidationError for a malformed --now.
 */
export function simulatedTime(cmd: Command, opts: WithLocalOptions = {}): Date | undefined {
  if (opts.at !== undefined) return opts.at;
  const g = cmd.optsWithGlobals() as GlobalOptions;
  return g.now !== undefined ? parseInstant(g.now, '--now', new Date()) : undefined;
}

/**
 * Opens the home named by --home (else REKEY_HOME), with the clock fixed by `opts.at` or --now
 * when given, runs `fn`, and closes the home whatever happens.
 *
 * - A missing home (no catalog in it) is refused with NotFoundError naming the absolute path,
 *   and nothing is created, unless `opts.create` (`keyring create`); `--home ""` and
 *   `REKEY_HOME=""` are refused (ValidationError).
 * - With a fixed clock every audit event written in the run carries `simulated: true` and
 *   `recordedAt` (the real time) besides `at` (the simulated time).
 * - Redis configured but silent for about a second: one warning line on stderr, and the
 *   command goes on with the cache off (`rk.cacheAvailable` false).
 * - The opened home is noted as this run's target (main prints it after a change), and every
 *   audit event written notes that the run acted (main names the home even after a failure).
 *
 * openLocal checks the master key before it wires anything: a missing or replaced `master.key`
 * stops every command with one KeyUnavailableError naming the path, before anything is written.
 *
 * @example
 * await withLocal(cmd, async (rk) => writeStdout(`${rk.home}\n`));
 * await withLocal(cmd, (rk) => create(rk), { create: true });
 */
export async function withLocal<T>(cmd: Command, fn: (rk: LocalServices) => Promise<T>, opts: WithLocalOptions = {}): Promise<T> {
  const g = cmd.optsWithGlobals() as GlobalOptions;
  const fixed = simulatedTime(cmd, opts);
  const rk = await openLocal({
    ...(g.home === undefined ? {} : { home: g.home }),
    ...(fixed ? { clock: () => fixed, simulated: true } : {}),
    mustExist: opts.create !== true,
    // Every local change writes an audit event: one written means this run acted, so a command
    // that fails afterwards still names the home it changed.
    onAuditRecord: noteActed,
  });
  noteTarget({ kind: 'local', home: rk.home });
  if (!rk.cacheAvailable) {
    process.stderr.write(`rekey: warning: Redis at ${rk.cacheEndpoint ?? 'REKEY_REDIS_URL'} did not answer within 1 s; the cache is off for this command\n`);
  }
  try {
    return await fn(rk);
  } finally {
    await rk.close();
  }
}
