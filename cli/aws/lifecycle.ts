/**
 * `rekey --aws rotate | revoke | freeze | unfreeze`: rotation runs in the deployed rotate
 * function; a revocation is a `Key Version Compromised` event on the stack's bus (the revoke
 * function takes it from there); freeze and unfreeze write the catalog.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Command } from 'commander';
import { REVOKE_DETAIL_TYPE, REVOKE_SOURCE } from '../../shared/vocabulary/event-schemas';
import { BackendError, ValidationError } from '../../shared/errors';
import { mapAwsError } from '../../shared/adapters/aws/map-aws-error';
import { parsePositiveInt } from '../parse';
import { writeStdout } from '../io';
import { callerPrincipalArn, invokeFunction, operatorActor, type AwsCommandKit } from './aws-kit';

/** Registers the lifecycle commands of AWS mode. */
export function registerAwsLifecycleCommands(program: Command, kit: AwsCommandKit): void {
  program
    .command('rotate <keyring>')
    .description('rotate now: the deployed rotate function adds the next version as pending')
    .option('--reason <text>', 'why', 'operator request')
    .action(async (name: string, o: { reason: string }, cmd: Command) => {
      const ctx = await kit.open(cmd);
      const res = await invokeFunction(ctx, 'rotate', { keyring: name, force: true, actor: operatorActor(), reason: o.reason });
      await writeStdout(`${JSON.stringify(res)}\n`);
    });

  program
    .command('revoke <keyring>')
    .description('emergency revocation: puts a "Key Version Compromised" event on the stack\'s bus')
    .requiredOption('--version <n>', 'the compromised version')
    .requiredOption('--reason <text>', 'why (recorded in the audit trail)')
    .action(async (name: string, o: { version: string; reason: string }, cmd: Command) => {
      const version = parsePositiveInt(o.version, '--version');
      if (o.reason.length === 0 || o.reason.length > 1000) throw new ValidationError('--reason must be 1 to 1000 characters');
      const ctx = await kit.open(cmd);
      const svc = kit.services(ctx);
      try {
        await svc.keyrings.get(name); // fail here, clearly, on a keyring the stack does not know
      } finally {
        await svc.close();
      }
      // Who revoked, for the ledger and the audit trail: the sender's IAM principal, not $USER.
      const requestedBy = await callerPrincipalArn(ctx);
      const bus = ctx.config.eventBusName;
      // PutEvents entry: https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html
      const detail = { keyring: name, version, reason: o.reason, requestedBy };
      const res = await ctx.clients.eventBridge
        .send(new PutEventsCommand({ Entries: [{ Source: REVOKE_SOURCE, DetailType: REVOKE_DETAIL_TYPE, EventBusName: bus, Detail: JSON.stringify(detail) }] }))
        .catch((err: unknown) => {
          throw mapAwsError(err, `events:PutEvents on bus ${bus}`);
        });
      const entry = res.Entries?.[0];
      if ((res.FailedEntryCount ?? 0) > 0 || entry?.EventId === undefined) {
        throw new BackendError(`EventBridge did not accept the event (${entry?.ErrorCode ?? 'unknown error'})`);
      }
      await writeStdout(`revocation requested: event ${entry.EventId} on bus ${bus}; follow it with 'rekey --aws status ${name}'\n`);
    });

  for (const [verb, description] of [
    ['freeze', 'pause automatic transitions of a keyring (revocation still works)'],
    ['unfreeze', 'resume automatic transitions'],
  ] as const) {
    const c = program.command(`${verb} <keyring>`).description(description);
    if (verb === 'freeze') c.requiredOption('--reason <text>', 'why');
    c.action(async (name: string, o: { reason?: string }, cmd: Command) => {
      const ctx = await kit.open(cmd);
      const svc = kit.services(ctx);
      try {
        if (verb === 'freeze') await svc.keyrings.freeze(name, { reason: o.reason as string, actor: operatorActor() });
        else await svc.keyrings.unfreeze(name, { actor: operatorActor() });
      } finally {
        await svc.close();
      }
      process.stderr.write(`${verb === 'freeze' ? 'froze' : 'unfroze'} ${name} in stack ${ctx.stackName}\n`);
    });
  }
}
