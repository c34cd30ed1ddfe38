/**
 * The `rekey --aws` commands: drive a deployed stack. Reads go to the catalog bucket; rotation
 * and the escrow drill run inside the deployed functions (invoked, so operators need no key
 * permissions); a revocation is a `Key Version Compromised` event on the stack's bus, exactly
 * what a security tool would send.
 */
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Command } from 'commander';
import { buildAwsServices } from '../shared/compose/aws/build-aws-services';
import { REVOKE_DETAIL_TYPE, REVOKE_SOURCE } from '../shared/vocabulary/event-schemas';
import { BackendError, NotFoundError, ValidationError } from '../shared/errors';
import { mapAwsError } from '../shared/adapters/aws/map-aws-error';
import { openAws, type AwsModeContext, type OpenAwsOptions } from './aws-context';
import { parsePositiveInt } from './parse';
import { writeStdout } from './io';
import { keyringStatus, renderStatus, type KeyringStatus } from './render';

/** Global options of AWS mode. */
interface AwsGlobals {
  readonly region?: string;
  readonly stack?: string;
  readonly endpoint?: string;
}

/** Lets tests inject clients; production passes nothing. */
export type AwsOpener = (options: OpenAwsOptions) => Promise<AwsModeContext>;

function actor(): string {
  return `cli:${process.env.USER ?? 'unknown'}`;
}

async function invoke(ctx: AwsModeContext, fn: string, payload: unknown): Promise<unknown> {
  const name = ctx.functions[fn];
  if (name === undefined) throw new NotFoundError(`stack '${ctx.stackName}' has no ${fn} function in its FunctionNames output`);
  // A refused invoke (a role without the operator grant) must read as one clear line, not an "unexpected" error.
  const res = await ctx.clients.lambda
    .send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(payload)) }))
    .catch((err: unknown) => {
      throw mapAwsError(err, `lambda:InvokeFunction on the ${fn} function of stack '${ctx.stackName}'`);
    });
  const text = res.Payload ? Buffer.from(res.Payload).toString('utf8') : 'null';
  if (res.FunctionError) throw new BackendError(`the ${fn} function failed (${res.FunctionError}); see its logs`);
  const body = JSON.parse(text) as { ok?: boolean; error?: { message?: string } } | null;
  if (body && body.ok === false && body.error?.message) throw new ValidationError(`the ${fn} function refused: ${body.error.message.slice(0, 300)}`);
  return body;
}

/** Registers the AWS-mode commands. */
export function registerAwsCommands(program: Command, opener: AwsOpener = openAws): void {
  const open = (cmd: Command) => {
    const g = cmd.optsWithGlobals() as AwsGlobals;
    return opener({
      ...(g.stack ? { stackName: g.stack } : {}),
      ...(g.region ? { region: g.region } : {}),
      ...(g.endpoint ? { endpoint: g.endpoint } : {}),
    });
  };
  const services = (ctx: AwsModeContext) =>
    buildAwsServices(ctx.config, { clients: { s3: ctx.clients.s3, kms: ctx.clients.kms, eventBridge: ctx.clients.eventBridge } });

  program
    .command('status [keyring]')
    .description('versions and states of the deployed keyrings (with --count-records, records per version in the record targets)')
    .option('--count-records', 'count records per version in every record target (lists the targets: slow on large buckets)')
    .option('--json', 'print as JSON')
    .action(async (name: string | undefined, o: { json?: boolean; countRecords?: boolean }, cmd: Command) => {
      const ctx = await open(cmd);
      const svc = services(ctx);
      try {
        const catalogs = name ? [await svc.keyrings.get(name)] : await svc.keyrings.list();
        const out: KeyringStatus[] = [];
        for (const c of catalogs) {
          const counts = new Map<number, number>();
          if (o.countRecords) {
            for (const t of svc.recordTargets.filter((x) => x.target.keyring === c.keyring)) {
              for (const [v, n] of await t.store.countByVersion(c.keyring)) counts.set(v, (counts.get(v) ?? 0) + n);
            }
          }
          out.push(keyringStatus(c, counts, new Map()));
        }
        if (o.json) await writeStdout(`${JSON.stringify({ stack: ctx.stackName, keyrings: out }, null, 2)}\n`);
        else await writeStdout(renderStatus(out));
      } finally {
        await svc.close();
      }
    });

  program
    .command('rotate <keyring>')
    .description('rotate now: the deployed rotate function adds the next version as pending')
    .option('--reason <text>', 'why', 'operator request')
    .action(async (name: string, o: { reason: string }, cmd: Command) => {
      const ctx = await open(cmd);
      const res = await invoke(ctx, 'rotate', { keyring: name, force: true, actor: actor(), reason: o.reason });
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
      const ctx = await open(cmd);
      const svc = services(ctx);
      try {
        await svc.keyrings.get(name); // fail here, clearly, on a keyring the stack does not know
      } finally {
        await svc.close();
      }
      const res = await ctx.clients.eventBridge.send(
        new PutEventsCommand({
          Entries: [
            {
              Source: REVOKE_SOURCE,
              DetailType: REVOKE_DETAIL_TYPE,
              EventBusName: ctx.config.eventBusName,
              Detail: JSON.stringify({ keyring: name, version, reason: o.reason }),
            },
          ],
        }),
      ).catch((err: unknown) => {
        throw mapAwsError(err, `events:PutEvents on bus ${ctx.config.eventBusName}`);
      });
      const entry = res.Entries?.[0];
      if ((res.FailedEntryCount ?? 0) > 0 || entry?.EventId === undefined) {
        throw new BackendError(`EventBridge did not accept the event (${entry?.ErrorCode ?? 'unknown error'})`);
      }
      await writeStdout(`revocation requested: event ${entry.EventId} on bus ${ctx.config.eventBusName}; follow it with 'rekey --aws status ${name}'\n`);
    });

  for (const [verb, description] of [
    ['freeze', 'pause automatic transitions of a keyring (revocation still works)'],
    ['unfreeze', 'resume automatic transitions'],
  ] as const) {
    const c = program.command(`${verb} <keyring>`).description(description);
    if (verb === 'freeze') c.requiredOption('--reason <text>', 'why');
    c.action(async (name: string, o: { reason?: string }, cmd: Command) => {
      const ctx = await open(cmd);
      const svc = services(ctx);
      try {
        if (verb === 'freeze') await svc.keyrings.freeze(name, { reason: o.reason as string, actor: actor() });
        else await svc.keyrings.unfreeze(name, { actor: actor() });
      } finally {
        await svc.close();
      }
      process.stderr.write(`${verb === 'freeze' ? 'froze' : 'unfroze'} ${name} in stack ${ctx.stackName}\n`);
    });
  }

  const escrow = program.command('escrow').description('backup key escrow of the deployed stack');
  escrow
    .command('verify [keyring]')
    .description('run the restore drill in the deployed escrow function and print its report')
    .action(async (name: string | undefined, _o: unknown, cmd: Command) => {
      const ctx = await open(cmd);
      const res = (await invoke(ctx, 'escrow', { action: 'drill', ...(name ? { keyring: name } : {}) })) as { ok?: boolean } | null;
      await writeStdout(`${JSON.stringify(res, null, 2)}\n`);
      if (!res || res.ok !== true) throw new ValidationError('escrow drill failed for at least one version');
    });
}
