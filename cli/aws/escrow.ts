/**
 * `rekey --aws escrow verify | restore`: the restore drill and the restore into the catalog, both
 * run by the deployed escrow function (invoked, so the operator needs no escrow-key or
 * keyring-key permission of its own: only lambda:InvokeFunction on the escrow function).
 */
import type { Command } from 'commander';
import { ValidationError } from '../../shared/errors';
import { parsePositiveInt } from '../parse';
import { writeJson } from '../io';
import { callerPrincipalArn, invokeFunction, type AwsCommandKit } from './aws-kit';

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
  escrow
    .command('restore <keyring>')
    .description('put a destroyed or lost version back into the catalog from escrow (as deprecated), in the deployed escrow function')
    .requiredOption('--version <n>', 'which version')
    .option('--reason <text>', 'why (recorded in the audit trail)', 'restore from escrow')
    .action(async (name: string, o: { version: string; reason: string }, cmd: Command) => {
      const version = parsePositiveInt(o.version, '--version');
      const ctx = await kit.open(cmd);
      // The function validates the event (shared/vocabulary/event-schemas.ts); a refused restore
      // (revoked, still holding its key, no record) comes back as its error and ends as one line.
      // Restoring a destroyed key is audited under the caller's IAM principal, not a local user name.
      const actor = await callerPrincipalArn(ctx);
      const res = (await invokeFunction(ctx, 'escrow', { action: 'restore', keyring: name, version, reason: o.reason, actor })) as { ok?: boolean } | null;
      await writeJson(res);
      if (!res || res.ok !== true) throw new ValidationError(`escrow restore of ${name} v${version} failed`);
    });
}
