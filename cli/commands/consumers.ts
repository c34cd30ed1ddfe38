/**
 * `rekey consumers add | remove | list` (local mode): the consumer registry of the home. Local
 * mode has no KMS grants, so the registry is kept and listed (what an application's tests and
 * the CLI see is the same document shape as on AWS) but grants nothing; the output says so.
 */
import type { Command } from 'commander';
import { loadConsumerAccounts } from '../../shared/config/load-consumer-bound';
import { addConsumer, listConsumers, removeConsumer } from '../../shared/usecases/consumers';
import { withLocal } from '../local-context';
import { printChange, printConsumers } from '../render-consumers';

/**
 * Registers the `consumers` group on `program`.
 *
 * @example
 * registerConsumersCommands(program);
 */
export function registerConsumersCommands(program: Command): void {
  const consumers = program.command('consumers').description('register the application roles that use a keyring (no redeploy of rekey needed)');

  consumers
    .command('add <keyring> <roleArn>')
    .description('register an IAM role as a consumer of the keyring (encrypt and decrypt; --decrypt-only to read only); repeating it changes nothing')
    .option('--decrypt-only', 'the role only decrypts')
    .option('--json', 'print the outcome as JSON')
    .action(async (keyring: string, roleArn: string, o: { decryptOnly?: boolean; json?: boolean }, cmd: Command) => {
      // REKEY_CONSUMER_ACCOUNTS, when set, bounds local registrations as the stack bounds AWS ones.
      const accounts = loadConsumerAccounts();
      await withLocal(cmd, async (rk) => {
        const r = await addConsumer(
          { keyring, principalArn: roleArn, access: o.decryptOnly === true ? 'decrypt' : 'encrypt-decrypt', actor: rk.actor, now: rk.clock(), ...(accounts === undefined ? {} : { accounts }) },
          { registry: rk.consumers, catalogs: rk.catalogs, audit: rk.audit },
        );
        await printChange(r, { mode: 'local' }, o.json === true);
      });
    });

  consumers
    .command('remove <keyring> <roleArn>')
    .description('remove a consumer from the keyring; repeating it changes nothing')
    .option('--json', 'print the outcome as JSON')
    .action(async (keyring: string, roleArn: string, o: { json?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const r = await removeConsumer({ keyring, principalArn: roleArn, actor: rk.actor, now: rk.clock() }, { registry: rk.consumers, catalogs: rk.catalogs, audit: rk.audit });
        await printChange(r, { mode: 'local' }, o.json === true);
      });
    });

  consumers
    .command('list [keyring]')
    .description('list the registered consumers of one keyring or of every keyring')
    .option('--json', 'print the consumers as JSON')
    .action(async (keyring: string | undefined, o: { json?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const all = await listConsumers(keyring === undefined ? {} : { keyring }, { registry: rk.consumers, catalogs: rk.catalogs });
        await printConsumers(all, o.json === true);
      });
    });
}
