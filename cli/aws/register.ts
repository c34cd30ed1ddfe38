/**
 * The `rekey --aws` commands: drive a deployed stack. Reads go to the catalog bucket; rotation
 * and the escrow drill run inside the deployed functions (invoked, so operators need no key
 * permissions); a revocation is a `Key Version Compromised` event on the stack's bus, exactly
 * what a security tool would send.
 */
import type { Command } from 'commander';
import { buildAwsServices } from '../../shared/compose/aws/build-aws-services';
import { openAws } from '../aws-context';
import { noteTarget } from '../target';
import type { AwsCommandKit, AwsOpener } from './aws-kit';
import { registerAwsConsumersCommands } from './consumers';
import { registerAwsEscrowCommands } from './escrow';
import { registerAwsLifecycleCommands } from './lifecycle';
import { registerAwsOutputsCommand } from './outputs';
import { registerAwsStatusCommand } from './status';

export type { AwsOpener };

/** Global options of AWS mode. */
interface AwsGlobals {
  readonly region?: string;
  readonly stack?: string;
  readonly endpoint?: string;
}

/** Registers the AWS-mode commands. */
export function registerAwsCommands(program: Command, opener: AwsOpener = openAws): void {
  const kit: AwsCommandKit = {
    open: async (cmd) => {
      const g = cmd.optsWithGlobals() as AwsGlobals;
      const ctx = await opener({
        ...(g.stack ? { stackName: g.stack } : {}),
        ...(g.region ? { region: g.region } : {}),
        ...(g.endpoint ? { endpoint: g.endpoint } : {}),
      });
      // The system this run acts on, for the line main prints after a change.
      noteTarget({ kind: 'aws', stack: ctx.stackName, region: ctx.config.region ?? g.region ?? 'the default region' });
      return ctx;
    },
    services: (ctx) => buildAwsServices(ctx.config, { clients: { s3: ctx.clients.s3, kms: ctx.clients.kms, eventBridge: ctx.clients.eventBridge, ...(ctx.clients.sqs === undefined ? {} : { sqs: ctx.clients.sqs }) } }),
  };
  registerAwsStatusCommand(program, kit);
  registerAwsLifecycleCommands(program, kit);
  registerAwsEscrowCommands(program, kit);
  registerAwsConsumersCommands(program, kit);
  registerAwsOutputsCommand(program, kit);
}
