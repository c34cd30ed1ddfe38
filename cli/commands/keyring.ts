/** `rekey keyring create | list` (local mode). */
import type { Command } from 'commander';
import { activeVersion, parsePolicy } from '../../shared/catalog';
import { writeStdout } from '../io';
import { withLocal } from '../local-context';

/** Options of `keyring create`. */
interface CreateOptions {
  readonly rotateEvery?: string;
  readonly grace?: string;
  readonly propagation?: string;
  readonly retention?: string;
}

/** Registers the `keyring` group on `program`. */
export function registerKeyringCommands(program: Command): void {
  const keyring = program.command('keyring').description('create and list keyrings');
  keyring
    .command('create <name>')
    .description('create a keyring with version 1 active')
    .option('--rotate-every <duration>', 'rotate when the active version is this old (e.g. 90d)')
    .option('--grace <duration>', 'how long a superseded version stays fully usable (e.g. 7d)')
    .option('--propagation <duration>', 'how long a new version is announced before it encrypts (e.g. 10m)')
    .option('--retention <duration>', 'how long a disabled version is kept before destruction (e.g. 30d)')
    .action(async (name: string, o: CreateOptions, cmd: Command) => {
      const policy = parsePolicy({
        ...(o.rotateEvery !== undefined ? { rotateEvery: o.rotateEvery } : {}),
        ...(o.grace !== undefined ? { grace: o.grace } : {}),
        ...(o.propagation !== undefined ? { propagation: o.propagation } : {}),
        ...(o.retention !== undefined ? { retention: o.retention } : {}),
      });
      await withLocal(cmd, async (rk) => {
        const c = await rk.keyrings.createKeyring(name, policy, { actor: rk.actor, now: rk.clock() });
        process.stderr.write(`created keyring ${c.keyring} with version 1 active in ${rk.home}\n`);
      });
    });
  keyring
    .command('list')
    .description('list keyrings and their active version')
    .action(async (_o: unknown, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        for (const c of await rk.keyrings.list()) await writeStdout(`${c.keyring}\tactive v${activeVersion(c)?.version ?? '-'}\n`);
      });
    });
}
