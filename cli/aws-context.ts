/**
 * AWS mode: the configuration of a deployed rekey stack, read from its CloudFormation outputs,
 * turned into the same configuration the Lambda functions read, and the SDK clients the
 * operator's commands use. Operators need read access to the catalog bucket, invoke rights on
 * the rotate and escrow functions, and events:PutEvents on the bus — not the keys themselves.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { STACK_OUTPUTS, type StackOutputKey } from '../shared/config/stack-outputs';
import { loadConfig, type RekeyConfig } from '../shared/config/load-config';
import { AccessDeniedError, BackendError, NotFoundError, ValidationError } from '../shared/errors';

/** SDK clients of AWS mode (injectable for tests). */
export interface AwsModeClients {
  readonly cloudFormation: CloudFormationClient;
  readonly s3: S3Client;
  readonly kms: KMSClient;
  readonly lambda: LambdaClient;
  readonly eventBridge: EventBridgeClient;
}

/** What AWS mode knows about the deployed stack. */
export interface AwsModeContext {
  readonly stackName: string;
  readonly config: RekeyConfig;
  /** rekey function (rotate, escrow, ...) → deployed Lambda function name. */
  readonly functions: Readonly<Record<string, string>>;
  readonly clients: AwsModeClients;
}

/** Options of {@link openAws}. */
export interface OpenAwsOptions {
  readonly stackName?: string;
  readonly region?: string;
  /** Endpoint override for every client (tests against an emulator). */
  readonly endpoint?: string;
  readonly clients?: Partial<AwsModeClients>;
}

/** Creates the clients of AWS mode; the SDK's default credential chain applies. */
export function createAwsModeClients(options: { region?: string; endpoint?: string } = {}): AwsModeClients {
  const base = {
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  };
  return {
    cloudFormation: new CloudFormationClient(base),
    s3: new S3Client({ ...base, ...(options.endpoint ? { forcePathStyle: true } : {}) }),
    kms: new KMSClient(base),
    lambda: new LambdaClient(base),
    eventBridge: new EventBridgeClient(base),
  };
}

/**
 * Reads the stack's outputs and builds the AWS-mode context.
 *
 * @example
 * const aws = await openAws({ stackName: 'Rekey', region: 'eu-west-1' });
 * console.log(aws.config.catalogBucket);
 */
export async function openAws(options: OpenAwsOptions = {}): Promise<AwsModeContext> {
  const stackName = options.stackName ?? 'Rekey';
  const clients = { ...createAwsModeClients(options), ...(options.clients ?? {}) };
  let outputs: { OutputKey?: string; OutputValue?: string }[] | undefined;
  try {
    const res = await clients.cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = res.Stacks?.[0]?.Outputs;
  } catch (err) {
    const name = (err as { name?: string }).name ?? '';
    if (name === 'ValidationError') throw new NotFoundError(`stack '${stackName}' was not found in this account and region`);
    // IAM decides before CloudFormation looks the stack up, so a role scoped to its own stack cannot tell "missing" from "not mine".
    if (name === 'AccessDenied' || name === 'AccessDeniedException') {
      throw new AccessDeniedError(`cloudformation:DescribeStacks on stack '${stackName}' was denied: no such stack in this account and region, or this role may not describe it`, { cause: err });
    }
    throw new BackendError(`could not read stack '${stackName}': ${name || 'error'}`, { cause: err });
  }
  if (outputs === undefined) throw new NotFoundError(`stack '${stackName}' has no outputs; is it a rekey stack?`);
  const env: Record<string, string> = {};
  let functions: Record<string, string> = {};
  for (const o of outputs) {
    if (o.OutputKey === undefined || o.OutputValue === undefined) continue;
    if (o.OutputKey === 'FunctionNames') functions = parseFunctionNames(o.OutputValue);
    const variable = STACK_OUTPUTS[o.OutputKey as StackOutputKey];
    if (variable !== undefined) env[variable] = o.OutputValue;
  }
  const region = options.region ?? (await clients.s3.config.region());
  env.AWS_REGION = region;
  const config = loadConfig(env);
  return { stackName, config, functions, clients };
}

function parseFunctionNames(value: string): Record<string, string> {
  try {
    const parsed = JSON.parse(value) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return Object.fromEntries(Object.entries(parsed).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
    }
  } catch {
    // fall through
  }
  throw new ValidationError('stack output FunctionNames is not a JSON object of function names');
}
