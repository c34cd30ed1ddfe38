/**
 * What every AWS-mode command works with: the stack's context (configuration, function names,
 * SDK clients), the services built from it, and the invocation of a deployed function.
 */
import { InvokeCommand } from '@aws-sdk/client-lambda';
import type { Command } from 'commander';
import type { RekeyServices } from '../../shared/compose/aws/rekey-services';
import { BackendError, NotFoundError, ValidationError } from '../../shared/errors';
import { mapAwsError } from '../../shared/adapters/aws/map-aws-error';
import type { AwsModeContext, OpenAwsOptions } from '../aws-context';

/** Lets tests inject clients; production passes nothing. */
export type AwsOpener = (options: OpenAwsOptions) => Promise<AwsModeContext>;

/** The means of an AWS-mode command. */
export interface AwsCommandKit {
  /** Reads the stack named by the global options. */
  open(cmd: Command): Promise<AwsModeContext>;
  /** The services over the stack's configuration (close them when done). */
  services(ctx: AwsModeContext): RekeyServices;
}

/** The operator, for audit events. */
export function operatorActor(): string {
  return `cli:${process.env.USER ?? 'unknown'}`;
}

/**
 * Invokes the stack's `fn` function with `payload` and returns its response; a refused invoke,
 * a crashed function and a refusing job each end as one clear error.
 *
 * @example
 * await invokeFunction(ctx, 'rotate', { keyring: 'pii', force: true, actor, reason });
 */
export async function invokeFunction(ctx: AwsModeContext, fn: string, payload: unknown): Promise<unknown> {
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
