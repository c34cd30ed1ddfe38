/**
 * `rekey --aws rotate | revoke | freeze | unfreeze | plan`: rotation runs in the deployed rotate
 * function; a revocation is a `Key Version Compromised` event on the stack's bus (the revoke
 * function takes it from there); freeze and unfreeze write the catalog; plan reads it. Every
 * change is recorded under the caller's IAM principal (what CloudTrail and the bus policy see),
 * never a local user name.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Command } from 'commander';
import { REVOKE_DETAIL_TYPE, REVOKE_SOURCE } from '../../shared/vocabulary/event-schemas';
import { BackendError, ConflictError, ValidationError } from '../../shared/errors';
import { mapAwsError } from '../../shared/adapters/aws/map-aws-error';
import type { RotateResponse } from '../../shared/usecases/rotate';
import { readKeyringPlan } from '../../shared/usecases/keyring-plan';
import { confirmIrreversible } from '../confirm';
import { noteActed } from '../target';
import { parsePositiveInt } from '../parse';
import { writeJson, writeStdout } from '../io';
import { renderPlan } from '../render-lifecycle';
import { buildAwsCore } from '../../shared/compose/aws/aws-core';
import { awsAction, callerPrincipalArn, invokeFunction, type AwsCommandKit } from './aws-kit';
import { OperatorPlanFacts } from './operator-plan-facts';

/** `rotate --json`: what the rotate function did to the keyring. */
export interface AwsRotateView {
  readonly stack: string;
  readonly keyring: string;
  readonly status: 'created' | 'pending-exists';
  readonly version: number;
}

/** `revoke --json`: the event the CLI put on the bus. */
export interface AwsRevokeView {
  readonly stack: string;
  readonly keyring: string;
  readonly version: number;
  readonly bus: string;
  readonly eventId: string;
  readonly requestedBy: string;
}

/** `freeze --json` / `unfreeze --json`: the freeze as it is after the command. */
export interface AwsFreezeView {
  readonly stack: string;
  readonly keyring: string;
  readonly frozen: boolean;
  /** False when the keyring already was in the asked state (nothing was written). */
  readonly changed: boolean;
  readonly reason?: string;
  readonly since?: string;
  readonly by?: string;
}

/** The one outcome of a forced rotation of `keyring`, or the reason it did not happen. */
function rotateOutcome(stack: string, keyring: string, res: unknown): AwsRotateView {
  const outcome = (res as RotateResponse | null)?.results?.find((r) => r.keyring === keyring);
  if (outcome?.status === 'created' || outcome?.status === 'pending-exists') return { stack, keyring, status: outcome.status, version: outcome.version };
  if (outcome?.status === 'failed') throw new BackendError(`the rotate function could not rotate ${keyring} (${outcome.error.code}); see its logs and retry`);
  if (outcome?.status === 'paused') throw new ConflictError(`${keyring} is paused (frozen or breaker): see 'rekey --aws status ${keyring}'; nothing was changed`);
  throw new BackendError(`the rotate function returned no outcome for ${keyring}; see its logs`);
}

/** Registers the lifecycle commands of AWS mode. */
export function registerAwsLifecycleCommands(program: Command, kit: AwsCommandKit): void {
  program
    .command('rotate <keyring>')
    .description('rotate now: the deployed rotate function adds the next version as pending')
    .option('--reason <text>', 'why', 'operator request')
    .option('--json', 'print the outcome as JSON')
    .action(
      awsAction(async (name: string, o: { reason: string; json?: boolean }, cmd: Command) => {
        const ctx = await kit.open(cmd);
        const actor = await callerPrincipalArn(ctx);
        const res = await invokeFunction(ctx, 'rotate', { keyring: name, force: true, actor, reason: o.reason });
        const view = rotateOutcome(ctx.stackName, name, res);
        if (o.json) await writeJson(view);
        else {
          const what = view.status === 'created' ? 'created' : 'already pending:';
          process.stderr.write(`${what} version ${view.version} of ${name} (pending; becomes active after the propagation window)\n`);
        }
      }),
    );

  program
    .command('revoke <keyring>')
    .description('emergency revocation: puts a "Key Version Compromised" event on the stack\'s bus (asks on a terminal; --yes for scripts)')
    .requiredOption('--version <n>', 'the compromised version')
    .requiredOption('--reason <text>', 'why (recorded in the audit trail)')
    .option('--yes', 'do not ask for confirmation (scripts)')
    .option('--json', 'print the event sent as JSON')
    .action(
      awsAction(async (name: string, o: { version: string; reason: string; yes?: boolean; json?: boolean }, cmd: Command) => {
        const version = parsePositiveInt(o.version, '--version');
        if (o.reason.length === 0 || o.reason.length > 1000) throw new ValidationError('--reason must be 1 to 1000 characters');
        const ctx = await kit.open(cmd);
        const svc = kit.services(ctx);
        try {
          await svc.keyrings.get(name); // fail here, clearly, on a keyring the stack does not know
        } finally {
          await svc.close();
        }
        const region = ctx.config.region ?? 'its region';
        await confirmIrreversible({ action: `revoke ${name} v${version} in stack ${ctx.stackName} (${region})`, answer: name, ...(o.yes === undefined ? {} : { yes: o.yes }) });
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
        // The event is on the bus: the revoke function acts on it whatever happens to this process now.
        noteActed();
        const view: AwsRevokeView = { stack: ctx.stackName, keyring: name, version, bus, eventId: entry.EventId, requestedBy };
        if (o.json) await writeJson(view);
        else await writeStdout(`revocation requested: event ${entry.EventId} on bus ${bus}; follow it with 'rekey --aws status ${name}'\n`);
      }),
    );

  program
    .command('freeze <keyring>')
    .description('pause automatic transitions of a keyring (revocation still works); a second freeze keeps the first reason')
    .requiredOption('--reason <text>', 'why')
    .option('--json', 'print the freeze as JSON')
    .action(
      awsAction(async (name: string, o: { reason: string; json?: boolean }, cmd: Command) => {
        const ctx = await kit.open(cmd);
        const svc = kit.services(ctx);
        let view: AwsFreezeView;
        try {
          const before = (await svc.keyrings.get(name)).frozen;
          if (before !== undefined) {
            // The service keeps an existing freeze as it is; saying so beats a silent "froze".
            view = { stack: ctx.stackName, keyring: name, frozen: true, changed: false, reason: before.reason, since: before.at, by: before.by };
          } else {
            const actor = await callerPrincipalArn(ctx);
            await svc.keyrings.freeze(name, { reason: o.reason, actor });
            noteActed();
            const now = (await svc.keyrings.get(name)).frozen;
            view = { stack: ctx.stackName, keyring: name, frozen: true, changed: true, reason: now?.reason ?? o.reason, ...(now === undefined ? {} : { since: now.at, by: now.by }) };
          }
        } finally {
          await svc.close();
        }
        if (o.json) await writeJson(view);
        else if (view.changed) process.stderr.write(`froze ${name} in stack ${ctx.stackName}\n`);
        else process.stderr.write(`${name} already frozen since ${view.since ?? 'earlier'} (reason: ${view.reason ?? ''}); kept the first reason\n`);
      }),
    );

  program
    .command('unfreeze <keyring>')
    .description('resume automatic transitions')
    .option('--json', 'print the outcome as JSON')
    .action(
      awsAction(async (name: string, o: { json?: boolean }, cmd: Command) => {
        const ctx = await kit.open(cmd);
        const svc = kit.services(ctx);
        let changed: boolean;
        try {
          changed = (await svc.keyrings.get(name)).frozen !== undefined;
          if (changed) {
            await svc.keyrings.unfreeze(name, { actor: await callerPrincipalArn(ctx) });
            noteActed();
          }
        } finally {
          await svc.close();
        }
        const view: AwsFreezeView = { stack: ctx.stackName, keyring: name, frozen: false, changed };
        if (o.json) await writeJson(view);
        else process.stderr.write(changed ? `unfroze ${name} in stack ${ctx.stackName}\n` : `${name} is not frozen; nothing to do\n`);
      }),
    );

  program
    .command('plan [keyring]')
    .description('what the next ticks of the deployed stack would do and when, given current references, key use and escrow (nothing is changed)')
    .option('--count-records', 'count records per version in every record target (needs list access to them; slow on large buckets)')
    .option('--json', 'print the plan as JSON')
    .action(
      awsAction(async (name: string | undefined, o: { json?: boolean; countRecords?: boolean }, cmd: Command) => {
        const ctx = await kit.open(cmd);
        const svc = kit.services(ctx);
        try {
          // An operator role may not list the record buckets: without --count-records they count as unknown.
          const keyrings = o.countRecords
            ? svc.keyrings
            : buildAwsCore(ctx.config, { clients: { s3: ctx.clients.s3, kms: ctx.clients.kms, eventBridge: ctx.clients.eventBridge } }).keyringsWith(new OperatorPlanFacts());
          const plans = await readKeyringPlan(name === undefined ? {} : { keyring: name }, { keyrings, clock: svc.clock });
          if (o.json) await writeJson({ stack: ctx.stackName, keyrings: plans });
          else await writeStdout(renderPlan(plans));
        } finally {
          await svc.close();
        }
      }),
    );
}
