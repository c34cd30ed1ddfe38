/**
 * What every AWS-mode command works with: the stack's context (configuration, function names,
 * SDK clients), the services built from it, and the invocation of a deployed function.
 */
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
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
 * The IAM principal an assumed-role session, user or root acts as, written as `aws:PrincipalArn`
 * reads it: for a role session `arn:aws:sts::A:assumed-role/R/S` that is the role's ARN
 * `arn:aws:iam::A:role/R` ("For IAM roles, the request context returns the ARN of the role, not
 * the ARN of the user that assumed the role":
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn;
 * CloudTrail names the same role as the session's `sessionIssuer.arn`:
 * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html).
 * The session ARN carries no role path, so a role under a path comes out without it: the audit
 * names the role, and the bus policy (which decided on the real `aws:PrincipalArn`) is unaffected.
 * Any other ARN (an IAM user, the root, a federated user) is already what the key holds.
 *
 * @example
 * principalArnOf('arn:aws:sts::111122223333:assumed-role/SecOps/alice'); // 'arn:aws:iam::111122223333:role/SecOps'
 */
export function principalArnOf(callerArn: string): string {
  const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(callerArn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : callerArn;
}

/**
 * Who is sending this command, as an IAM principal ARN (STS GetCallerIdentity, whose response is
 * `{ UserId, Account, Arn }`: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
 * The STS client is built from the EventBridge client's region, endpoint and credentials, so the
 * identity named is exactly the one that puts the event on the bus. GetCallerIdentity needs no
 * permission, so only a network or credential failure can refuse it (one clear error then).
 *
 * @example
 * const requestedBy = await callerPrincipalArn(ctx); // 'arn:aws:iam::111122223333:role/SecOps'
 */
export async function callerPrincipalArn(ctx: AwsModeContext): Promise<string> {
  const res = await stsClientOf(ctx)
    .send(new GetCallerIdentityCommand({}))
    .catch((err: unknown) => {
      throw mapAwsError(err, 'sts:GetCallerIdentity');
    });
  if (res.Arn === undefined) throw new BackendError('sts:GetCallerIdentity returned no ARN');
  return principalArnOf(res.Arn);
}

function stsClientOf(ctx: AwsModeContext): STSClient {
  // A context may carry its own STS client (tests); otherwise one speaking as the EventBridge client.
  const own = (ctx.clients as Partial<{ readonly sts: STSClient }>).sts;
  if (own !== undefined) return own;
  const { region, credentials, endpoint } = ctx.clients.eventBridge.config;
  return new STSClient({ region, credentials, ...(endpoint === undefined ? {} : { endpoint }) });
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
