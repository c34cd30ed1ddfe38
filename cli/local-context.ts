/**
 * How a local command reaches the rekey home: opens it from the global options (--home, --now;
 * $REKEY_HOME, $REKEY_REDIS_URL and $REKEY_CATALOG_TTL_MS are read by openLocal's configuration),
 * runs one thing, and closes it.
 */
import type { Command } from 'commander';
import { openLocal, type LocalServices } from '../shared/compose/local/local-services';
import { parseInstant } from './parse';

/** Global options every local command sees. */
interface GlobalOptions {
  readonly home?: string;
  readonly now?: string;
}

/**
 * Opens the home named by --home (else REKEY_HOME), with the clock fixed by --now when given,
 * runs `fn`, and closes the home whatever happens. openLocal checks the master key before it
 * wires anything (the same check `npm start` and the local jobs get): a missing or replaced
 * `master.key` stops every command (rotate and tick included) with one KeyUnavailableError
 * naming the path, before anything is written.
 *
 * @example
 * await withLocal(cmd, async (rk) => writeStdout(`${rk.home}\n`));
 */
export async function withLocal<T>(cmd: Command, fn: (rk: LocalServices) => Promise<T>): Promise<T> {
  const g = cmd.optsWithGlobals() as GlobalOptions;
  const fixed = g.now !== undefined ? parseInstant(g.now, '--now') : undefined;
  const rk = await openLocal({
    ...(g.home === undefined ? {} : { home: g.home }),
    ...(fixed ? { clock: () => fixed } : {}),
  });
  try {
    return await fn(rk);
  } finally {
    await rk.close();
  }
}
