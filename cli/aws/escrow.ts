/** `rekey --aws escrow verify`: the restore drill, run by the deployed escrow function. */
import type { Command } from 'commander';
import { ValidationError } from '../../shared/errors';
import { writeJson } from '../io';
import { invokeFunction, type AwsCommandKit } from './aws-kit';

/** Registers the `escrow` group of AWS mode. */
export function registerAwsEscrowCommands(program: Command, kit: AwsCommandKit): void {
  const escrow = program.command('escrow').description('backup key escrow of the deployed stack');
  escrow
    .command('verify [keyring]')
    .description('run the restore drill in the deployed escrow function and print its report')
    .action(async (name: string | undefined, _o: unknown, cmd: Command) => {
      const ctx = await kit.open(cmd);
      const res = (await invokeFunction(ctx, 'escrow', { action: 'drill', ...(name ? { keyring: name } : {}) })) as { ok?: boolean } | null;
      await writeJson(res);
      if (!res || res.ok !== true) throw new ValidationError('escrow drill failed for at least one version');
    });
}
