/** `rekey status` (local mode): the keyring status use case over the home's records and cache. */
import type { Command } from 'commander';
import { readKeyringStatus } from '../../shared/usecases/keyring-status';
import { writeJson, writeStdout } from '../io';
import { withLocal } from '../local-context';
import { renderStatus } from '../render';

/** Registers `status` on `program`. */
export function registerStatusCommand(program: Command): void {
  program
    .command('status [keyring]')
    .description('versions, states, how many records and cache entries each version holds, its next transition and when (OVERDUE, STUCK), and why it is or is not moving on')
    .option('--all', 'also list destroyed versions')
    .option('--json', 'print as JSON')
    .action(async (name: string | undefined, o: { json?: boolean; all?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        // Part F's LocalServices says whether Redis answered; older wiring has no such field.
        const cacheUnavailable = (rk as { cacheAvailable?: boolean }).cacheAvailable === false;
        const status = await readKeyringStatus(
          { ...(name === undefined ? {} : { keyring: name }), ...(o.all ? { all: true } : {}) },
          {
            keyrings: rk.keyrings,
            records: rk.records,
            cache: rk.cacheStore,
            keyUse: rk.keyUse,
            clock: rk.clock,
            ...(cacheUnavailable ? { cacheUnavailable } : {}),
          },
        );
        if (o.json) return writeJson({ home: rk.home, cache: rk.cacheBackend, keyrings: status });
        await writeStdout(renderStatus(status, rk.clock()));
      });
    });
}
