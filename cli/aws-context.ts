/**
 * AWS mode: the configuration of a deployed rekey stack, read from its CloudFormation outputs,
 * turned into the same configuration the Lambda functions read, and the SDK clients the
 * operator's commands use. Operators need read access to the catalog bucket, invoke rights on
 * the rotate and escrow functions, and events:PutEvents on the bus — not the keys themselves.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { CLI_INVOKE_SDK_TIMEOUTS, CLI_SDK_TIMEOUTS, newSdkClient } from '../shared/adapters/aws/sdk-client-options';
import { STACK_OUTPUTS, type StackOutputKey } from '../shared/config/stack-outputs';
import { loadConfig, type RekeyConfig } from '../shared/config/load-config';
import { AccessDeniedError, BackendError, NotFoundError, ValidationError } from '../shared/errors';
import { explainAwsFailure } from './aws/aws-environment-failure';

/** SDK clients of AWS mode (injectable for tests). */
export interface AwsModeClients {
  readonly cloudFormation: CloudFormationClient;
  readonly s3: S3Client;
  readonly kms: KMSClient;
  readonly lambda: LambdaClient;
  readonly eventBridge: EventBridgeClient;
  /** The census loss queues' depth (status --count-records). @default one with the others' settings */
  readonly sqs?: SQSClient;
}

/** What AWS mode knows about the deployed stack. */
export interface AwsModeContext {
  readonly stackName: string;
  readonly config: RekeyConfig;
  /** rekey function (rotate, escrow, ...) → deployed Lambda function name. */
  readonly functions: Readonly<Record<string, string>>;
  /** Every output of the stack, by key (informational ones such as ConsumerAccounts included). */
  readonly outputs: Readonly<Record<string, string>>;
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

/**
 * Creates the clients of AWS mode; the SDK's default credential chain applies. Every client
 * carries the CLI's timeouts (shared/adapters/aws/sdk-client-options.ts), so a silent endpoint
 * ends the command within seconds; the Lambda client waits as long as a function may run.
 */
export function createAwsModeClients(options: { region?: string; endpoint?: string } = {}): AwsModeClients {
  const base = {
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  };
  return {
    cloudFormation: newSdkClient(CloudFormationClient, base, CLI_SDK_TIMEOUTS),
    s3: newSdkClient(S3Client, { ...base, ...(options.endpoint ? { forcePathStyle: true } : {}) }, CLI_SDK_TIMEOUTS),
    kms: newSdkClient(KMSClient, base, CLI_SDK_TIMEOUTS),
    lambda: newSdkClient(LambdaClient, base, CLI_INVOKE_SDK_TIMEOUTS),
    eventBridge: newSdkClient(EventBridgeClient, base, CLI_SDK_TIMEOUTS),
    // The configured endpoint (--endpoint), not each queue URL's host.
    sqs: newSdkClient(SQSClient, { ...base, useQueueUrlAsEndpoint: false }, CLI_SDK_TIMEOUTS),
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
  const where = { ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }) };
  // The region first: without one every call fails with a bare "Region is missing".
  const region = options.region ?? (await clients.cloudFormation.config.region().catch((err: unknown) => Promise.reject(explainAwsFailure(err, where))));
  if (region === undefined || region === '') throw explainAwsFailure(new Error('Region is missing'), where);
  let outputs: { OutputKey?: string; OutputValue?: string }[] | undefined;
  try {
    const res = await clients.cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = res.Stacks?.[0]?.Outputs;
  } catch (err) {
    const name = (err as { name?: string }).name ?? '';
    if (name === 'ValidationError') throw new NotFoundError(`stack '${stackName}' not found in ${region}: pass --stack NAME (and --region) of the deployed rekey stack`);
    // IAM decides before CloudFormation looks the stack up, so a role scoped to its own stack cannot tell "missing" from "not mine".
    if (name === 'AccessDenied' || name === 'AccessDeniedException') {
      throw new AccessDeniedError(`access denied: cloudformation:DescribeStacks on stack '${stackName}' in ${region}: no such stack there, or this role may not describe it; check --stack, --region and AWS_PROFILE`, { cause: err });
    }
    const explained = explainAwsFailure(err, { ...where, region });
    if (explained !== err) throw explained;
    throw new BackendError(`could not read stack '${stackName}' in ${region}: ${name || 'error'}`, { cause: err });
  }
  if (outputs === undefined) throw new NotFoundError(`stack '${stackName}' has no outputs; is it a rekey stack?`);
  const env: Record<string, string> = {};
  let functions: Record<string, string> = {};
  const all: Record<string, string> = {};
  for (const o of outputs) {
    if (o.OutputKey === undefined || o.OutputValue === undefined) continue;
    all[o.OutputKey] = o.OutputValue;
    if (o.OutputKey === 'FunctionNames') functions = parseFunctionNames(o.OutputValue);
    const variable = STACK_OUTPUTS[o.OutputKey as StackOutputKey];
    if (variable !== undefined) env[variable] = o.OutputValue;
  }
  env.AWS_REGION = region;
  const config = loadConfig(env);
  return { stackName, config, functions, outputs: all, clients };
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
