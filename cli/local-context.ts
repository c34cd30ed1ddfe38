/**
 * How a local command reaches the rekey home: opens it from the global options (--home or
 * $REKEY_HOME, --now, $REKEY_REDIS_URL), runs one thing, and closes it.
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
 * Opens the home named by --home / REKEY_HOME, with the clock fixed by --now when given, runs
 * `fn`, and closes the home whatever happens.
 *
 * @example
 * await withLocal(cmd, async (rk) => writeStdout(`${rk.home}\n`));
 */
export async function withLocal<T>(cmd: Command, fn: (rk: LocalServices) => Promise<T>): Promise<T> {
  const g = cmd.optsWithGlobals() as GlobalOptions;
  const fixed = g.now !== undefined ? parseInstant(g.now, '--now') : undefined;
  const rk = await openLocal({
    home: g.home ?? process.env.REKEY_HOME,
    redisUrl: process.env.REKEY_REDIS_URL,
    ...(fixed ? { clock: () => fixed } : {}),
  });
  try {
    return await fn(rk);
  } finally {
    await rk.close();
  }
}
