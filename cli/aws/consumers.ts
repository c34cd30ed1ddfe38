/**
 * `rekey --aws consumers add | remove | list`: the consumer registry of a deployed stack. The
 * CLI writes `consumers/<keyring>.json` in the catalog bucket with the operator's own
 * credentials (s3:GetObject and s3:PutObject on `consumers/*`, s3:ListBucket for the list) and
 * audits the change on the stack's bus; the key-access function reconciles the grants from the
 * S3 event of the write, so the operator needs no KMS permission.
 */
import type { Command } from 'commander';
import { S3ConsumerRegistry } from '../../shared/adapters/aws/s3-consumer-registry';
import { parseConsumerAccounts } from '../../shared/config/load-consumer-bound';
import { ValidationError } from '../../shared/errors';
import { addConsumer, listConsumers, removeConsumer } from '../../shared/usecases/consumers';
import type { AwsModeContext } from '../aws-context';
import { printChange, printConsumers } from '../render-consumers';
import { noteActed } from '../target';
import { awsAction, callerPrincipalArn, type AwsCommandKit } from './aws-kit';

/** The stack output naming the accounts whose roles may be registered. */
export const CONSUMER_ACCOUNTS_OUTPUT = 'ConsumerAccounts';

/**
 * The consumer accounts the stack was deployed with, from its ConsumerAccounts output (a JSON
 * array, or a comma-separated list).
 *
 * @throws ValidationError when the stack has no such output (deployed before the registry) or it is malformed.
 * @example
 * stackConsumerAccounts({ stackName: 'Rekey', outputs: { ConsumerAccounts: '["111122223333"]' } }); // ['111122223333']
 */
export function stackConsumerAccounts(ctx: Pick<AwsModeContext, 'stackName' | 'outputs'>): readonly string[] {
  const raw = ctx.outputs[CONSUMER_ACCOUNTS_OUTPUT];
  if (raw === undefined) {
    throw new ValidationError(`stack '${ctx.stackName}' has no ${CONSUMER_ACCOUNTS_OUTPUT} output: it was deployed without the consumer registry; redeploy it with this release first`);
  }
  const text = raw.trim().startsWith('[') ? raw : JSON.stringify(raw.split(',').map((a) => a.trim()).filter((a) => a.length > 0));
  return parseConsumerAccounts(text, `stack output ${CONSUMER_ACCOUNTS_OUTPUT}`);
}

/**
 * Registers the AWS-mode `consumers` group.
 *
 * @example
 * registerAwsConsumersCommands(program, kit);
 */
export function registerAwsConsumersCommands(program: Command, kit: AwsCommandKit): void {
  const consumers = program.command('consumers').description("register the application roles that use a keyring; the stack's key-access function grants them (no redeploy)");

  consumers
    .command('add <keyring> <roleArn>')
    .description('register an IAM role of a consumer account (encrypt and decrypt; --decrypt-only to read only); repeating it changes nothing')
    .option('--decrypt-only', 'the role only decrypts')
    .option('--json', 'print the outcome as JSON')
    .action(
      awsAction(async (keyring: string, roleArn: string, o: { decryptOnly?: boolean; json?: boolean }, cmd: Command) => {
        const ctx = await kit.open(cmd);
        const accounts = stackConsumerAccounts(ctx);
        const svc = kit.services(ctx);
        try {
          const actor = await callerPrincipalArn(ctx);
          const r = await addConsumer(
            { keyring, principalArn: roleArn, access: o.decryptOnly === true ? 'decrypt' : 'encrypt-decrypt', actor, now: svc.clock(), accounts },
            { registry: registryOf(ctx), catalogs: svc.catalogs, audit: svc.audit },
          );
          if (r.outcome !== 'unchanged') noteActed();
          await printChange(r, { mode: 'aws', stack: ctx.stackName }, o.json === true);
        } finally {
          await svc.close();
        }
      }),
    );

  consumers
    .command('remove <keyring> <roleArn>')
    .description('remove a consumer; key-access revokes all of its grants; repeating it changes nothing')
    .option('--json', 'print the outcome as JSON')
    .action(
      awsAction(async (keyring: string, roleArn: string, o: { json?: boolean }, cmd: Command) => {
        const ctx = await kit.open(cmd);
        const svc = kit.services(ctx);
        try {
          const actor = await callerPrincipalArn(ctx);
          const r = await removeConsumer({ keyring, principalArn: roleArn, actor, now: svc.clock() }, { registry: registryOf(ctx), catalogs: svc.catalogs, audit: svc.audit });
          if (r.outcome !== 'unchanged') noteActed();
          await printChange(r, { mode: 'aws', stack: ctx.stackName }, o.json === true);
        } finally {
          await svc.close();
        }
      }),
    );

  consumers
    .command('list [keyring]')
    .description('list the registered consumers of one keyring or of every keyring')
    .option('--json', 'print the consumers as JSON')
    .action(
      awsAction(async (keyring: string | undefined, o: { json?: boolean }, cmd: Command) => {
        const ctx = await kit.open(cmd);
        const svc = kit.services(ctx);
        try {
          const all = await listConsumers(keyring === undefined ? {} : { keyring }, { registry: registryOf(ctx), catalogs: svc.catalogs });
          await printConsumers(all, o.json === true);
        } finally {
          await svc.close();
        }
      }),
    );
}

function registryOf(ctx: AwsModeContext): S3ConsumerRegistry {
  return new S3ConsumerRegistry({ client: ctx.clients.s3, bucket: ctx.config.catalogBucket });
}
