/**
 * The environment Lambda gives a function's process: the function's configured variables plus
 * the ones the runtime defines.
 *
 * From "Defined runtime environment variables" (AWS Lambda Developer Guide, "Working with Lambda
 * environment variables", https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html):
 * reserved (a function cannot set them): _HANDLER, AWS_DEFAULT_REGION, AWS_REGION,
 * AWS_EXECUTION_ENV (`AWS_Lambda_` + runtime id), AWS_LAMBDA_FUNCTION_NAME,
 * AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_LAMBDA_FUNCTION_VERSION, AWS_LAMBDA_INITIALIZATION_TYPE,
 * AWS_LAMBDA_LOG_GROUP_NAME, AWS_LAMBDA_LOG_STREAM_NAME, AWS_ACCESS_KEY, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (the execution role's), AWS_LAMBDA_RUNTIME_API,
 * LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR; TZ (`:UTC`). Unreserved defaults: LANG (en_US.UTF-8),
 * PATH, LD_LIBRARY_PATH, NODE_PATH. Lambda sets no NODE_OPTIONS: the Node.js 24 bootstrap passes
 * its heap flags on the command line and only reads NODE_OPTIONS if the function sets it.
 *
 * Differences, on purpose: AWS_LAMBDA_RUNTIME_API is not set (the twin drives the runtime over
 * IPC, there is no Runtime API endpoint); /var/task and /var/runtime become the asset folder and
 * this folder; AWS_ENDPOINT_URL points every SDK client at the twin's authorizing proxy.
 */
import { twinTls } from '../tls';
import { createHash } from 'node:crypto';
import type { TwinFunction, TwinRole } from '../world';

/** Variables the Lambda runtime defines that a function's configuration cannot set. */
export const RESERVED_VARIABLES: readonly string[] = [
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
  'TZ',
];

/** Inputs of {@link lambdaEnvironment}. */
export interface LambdaEnvironmentInput {
  readonly fn: TwinFunction;
  readonly role: TwinRole;
  readonly region: string;
  /** The execution environment's log stream (`YYYY/MM/DD/[$LATEST]<id>`). */
  readonly logStreamName: string;
  /** Folder of the twin's runtime files (stands in for /var/runtime). */
  readonly runtimeDir: string;
  /** The authorizing proxy every SDK client must go through. */
  readonly endpointUrl: string;
}

/**
 * A session token for the role's twin credentials: Lambda hands out temporary credentials, so
 * SDK clients sign with a token (X-Amz-Security-Token); the proxy identifies the role by the
 * access key id alone.
 */
export function sessionTokenFor(role: TwinRole): string {
  return `TwinSession${createHash('sha256').update(`${role.arn}:${role.accessKeyId}`).digest('base64url')}`;
}

/**
 * The complete environment of one execution environment's process.
 *
 * @throws Error when the function's configuration sets a reserved variable (Lambda rejects it).
 * @example
 * const env = lambdaEnvironment({ fn, role, region: 'us-east-1', logStreamName, runtimeDir, endpointUrl: proxyUrl });
 */
export function lambdaEnvironment(input: LambdaEnvironmentInput): Record<string, string> {
  const { fn, role, region, logStreamName, runtimeDir, endpointUrl } = input;
  const taken = Object.keys(fn.environment).filter((k) => RESERVED_VARIABLES.includes(k));
  if (taken.length > 0) throw new Error(`twin: ${fn.name} sets reserved Lambda variables: ${taken.join(', ')}`);
  const taskRoot = fn.assetDir;
  const unreserved: Record<string, string> = {
    LANG: 'en_US.UTF-8',
    PATH: '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin',
    LD_LIBRARY_PATH: `/var/lang/lib:/lib64:/usr/lib64:${runtimeDir}:${runtimeDir}/lib:${taskRoot}:${taskRoot}/lib:/opt/lib`,
    NODE_PATH: `/opt/nodejs/node24/node_modules:/opt/nodejs/node_modules:${runtimeDir}/node_modules:${runtimeDir}:${taskRoot}`,
  };
  const reserved: Record<string, string> = {
    _HANDLER: fn.handler,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMiB),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: logStreamName,
    AWS_ACCESS_KEY: role.accessKeyId,
    AWS_ACCESS_KEY_ID: role.accessKeyId,
    AWS_SECRET_ACCESS_KEY: role.secretAccessKey,
    AWS_SESSION_TOKEN: sessionTokenFor(role),
    LAMBDA_TASK_ROOT: taskRoot,
    LAMBDA_RUNTIME_DIR: runtimeDir,
    TZ: ':UTC',
  };
  // The twin's one addition: the SDK's endpoint setting, so every client goes through the proxy.
  // The twin's HTTPS endpoints (custom-resource ResponseURLs) use its own loopback CA, trusted as Lambda trusts Amazon's.
  return { ...unreserved, ...fn.environment, ...reserved, AWS_ENDPOINT_URL: endpointUrl, NODE_EXTRA_CA_CERTS: twinTls().certPath };
}
