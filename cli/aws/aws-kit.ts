/**
 * What every AWS-mode command works with: the stack's context (configuration, function names,
 * SDK clients), the services built from it, and the invocation of a deployed function.
 */
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { Command } from 'commander';
import type { RekeyServices } from '../../shared/compose/aws/rekey-services';
import { BackendError, ConflictError, NotFoundError, ValidationError } from '../../shared/errors';
import { mapAwsError } from '../../shared/adapters/aws/map-aws-error';
import { CLI_SDK_TIMEOUTS, newSdkClient } from '../../shared/adapters/aws/sdk-client-options';
import type { AwsModeContext, OpenAwsOptions } from '../aws-context';
import { currentTarget, noteActed } from '../target';
import { explainAwsFailure } from './aws-environment-failure';

/** Lets tests inject clients; production passes nothing. */
export type AwsOpener = (options: OpenAwsOptions) => Promise<AwsModeContext>;

/** The means of an AWS-mode command. */
export interface AwsCommandKit {
  /** Reads the stack named by the global options. */
  open(cmd: Command): Promise<AwsModeContext>;
  /** The services over the stack's configuration (close them when done). */
  services(ctx: AwsModeContext): RekeyServices;
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

/** The STS client {@link callerPrincipalArn} asks (exported for the timeout test). */
export function stsClientOf(ctx: AwsModeContext): STSClient {
  // A context may carry its own STS client (tests); otherwise one speaking as the EventBridge client.
  const own = (ctx.clients as Partial<{ readonly sts: STSClient }>).sts;
  if (own !== undefined) return own;
  const { region, credentials, endpoint } = ctx.clients.eventBridge.config;
  return newSdkClient(STSClient, { region, credentials, ...(endpoint === undefined ? {} : { endpoint }) }, CLI_SDK_TIMEOUTS);
}

/**
 * Wraps an AWS-mode action so that a failure to reach or use AWS (no credentials, no region, a
 * refused or silent endpoint, a denial) ends as one line saying what to do
 * ({@link explainAwsFailure}). Commander passes the command last, whose global options name
 * the endpoint; the region is the one the stack was read in.
 *
 * @example
 * program.command('status').action(awsAction(async (o, cmd) => { ... }));
 */
export function awsAction<Args extends unknown[]>(action: (...args: Args) => Promise<void>): (...args: Args) => Promise<void> {
  return async (...args: Args) => {
    try {
      await action(...args);
    } catch (err) {
      const cmd = args[args.length - 1] as Partial<Command> | undefined;
      const globals = (typeof cmd?.optsWithGlobals === 'function' ? cmd.optsWithGlobals() : {}) as { endpoint?: string; region?: string };
      const target = currentTarget();
      const region = target?.kind === 'aws' ? target.region : globals.region;
      throw explainAwsFailure(err, { ...(globals.endpoint === undefined ? {} : { endpoint: globals.endpoint }), ...(region === undefined ? {} : { region }) });
    }
  };
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
  const body = JSON.parse(text) as { ok?: boolean; error?: { code?: string; message?: string } } | null;
  if (body && body.ok === false && body.error?.message) throw refusal(`the ${fn} function refused: ${body.error.message.slice(0, 300)}`, body.error.code);
  // The function ran and answered: whatever the CLI does next (print, or fail on what the
  // answer says), the run has acted on the stack.
  noteActed();
  return body;
}

/**
 * A function's refusal as the error its code calls for: not found (4), the event itself invalid
 * (2: nothing changed), the backend (6), or, for every state refusal (revoked, still holding its
 * key, frozen, conflict), a conflict (5).
 */
function refusal(message: string, code: string | undefined): Error {
  switch (code) {
    case 'NOT_FOUND':
    case 'UNKNOWN_KEYRING':
    case 'UNKNOWN_VERSION':
      return new NotFoundError(message);
    case 'VALIDATION':
    case 'LIMIT_EXCEEDED':
    case 'CONTEXT_REQUIRED':
      return new ValidationError(message);
    case 'BACKEND':
    case 'THROTTLED':
    case 'KEY_UNAVAILABLE':
    case 'ACCESS_DENIED':
      return new BackendError(message, { retryable: false });
    default:
      return new ConflictError(message);
  }
}
