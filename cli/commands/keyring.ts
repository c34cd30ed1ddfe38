/** `rekey keyring create | list | sources` (local mode). */
import type { Command } from 'commander';
import { activeVersion, parsePolicy, parseUnmanagedList } from '../../shared/catalog';
import { ValidationError } from '../../shared/errors';
import { writeStdout } from '../io';
import { withLocal } from '../local-context';

/** Options of `keyring create`. */
interface CreateOptions {
  readonly rotateEvery?: string;
  readonly grace?: string;
  readonly propagation?: string;
  readonly retention?: string;
  readonly quiet?: string;
  readonly destroyAfterRetention?: boolean;
  readonly unmanaged?: string;
}

/** Registers the `keyring` group on `program`. */
export function registerKeyringCommands(program: Command): void {
  const keyring = program.command('keyring').description('create and list keyrings, declare where their data lives');
  keyring
    .command('create <name>')
    .description('create a keyring with version 1 active')
    .option('--rotate-every <duration>', 'rotate when the active version is this old (e.g. 90d)')
    .option('--grace <duration>', 'how long a superseded version stays fully usable (e.g. 7d)')
    .option('--propagation <duration>', 'how long a new version is announced before it encrypts (e.g. 10m)')
    .option('--retention <duration>', 'how long a disabled version is kept before it may be destroyed (e.g. 30d)')
    .option('--quiet <duration>', 'how long a retired version key must go unused before it is disabled (default 7d)')
    .option('--destroy-after-retention', 'opt in to destroying disabled versions after retention (off by default)')
    .option('--unmanaged <names>', 'comma-separated holders of envelopes rekey cannot count (e.g. files,backups)')
    .action(async (name: string, o: CreateOptions, cmd: Command) => {
      const policy = parsePolicy({
        ...(o.rotateEvery !== undefined ? { rotateEvery: o.rotateEvery } : {}),
        ...(o.grace !== undefined ? { grace: o.grace } : {}),
        ...(o.propagation !== undefined ? { propagation: o.propagation } : {}),
        ...(o.retention !== undefined ? { retention: o.retention } : {}),
        ...(o.quiet !== undefined ? { quiet: o.quiet } : {}),
        ...(o.destroyAfterRetention === true ? { destroyAfterRetention: true } : {}),
      });
      const unmanaged = o.unmanaged === undefined ? [] : parseUnmanagedList(o.unmanaged);
      await withLocal(cmd, async (rk) => {
        const c = await rk.keyrings.createKeyring(name, policy, { actor: rk.actor, now: rk.clock(), unmanaged });
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
  keyring
    .command('sources <name>')
    .description('declare where the keyring\'s envelopes live besides the record store (a keyring with unmanaged data is never disabled on counts alone)')
    .option('--unmanaged <names>', 'comma-separated holders rekey cannot count (replaces the list)')
    .option('--none', 'declare no unmanaged holder')
    .action(async (name: string, o: { unmanaged?: string; none?: boolean }, cmd: Command) => {
      if ((o.unmanaged === undefined) === (o.none !== true)) throw new ValidationError('give exactly one of --unmanaged <names> or --none');
      const unmanaged = o.none === true ? [] : parseUnmanagedList(o.unmanaged as string);
      await withLocal(cmd, async (rk) => {
        const r = await rk.keyrings.updateSources(name, unmanaged, { mode: 'set', actor: rk.actor, now: rk.clock() });
        const list = r.unmanaged.length === 0 ? 'none' : r.unmanaged.join(', ');
        process.stderr.write(`${r.changed ? 'declared' : 'unchanged:'} unmanaged sources of ${name}: ${list}\n`);
      });
    });
}
