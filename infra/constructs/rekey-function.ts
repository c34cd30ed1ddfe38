/**
 * One rekey Lambda function: a NodejsFunction bundled by the local esbuild with the shared
 * options, its own role (no managed policies; log permissions on its own log group only),
 * its own log group with a retention, and, for asynchronously invoked functions, a failure
 * destination queue that keeps every event whose retries ran out.
 *
 * Where the code comes from: in the checkout, NodejsFunction bundles functions/<name>/handler.ts
 * at synth. The published package ships no TypeScript sources, so its build pre-bundles each
 * handler with the same options (scripts/bundle-handlers.mjs, into dist/functions/<name>/), and
 * the compiled construct uses that folder as the code asset: a consumer's CDK app synthesizes
 * without the sources, the repository's esbuild or its lock file.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DELIVERY_RETRY, FUNCTION_BUNDLING, FUNCTION_RUNTIME, FUNCTION_SIZING, deadLetterQueueProps, type FunctionName } from '../defaults';

/** Network placement of a function that talks to the cache. */
export interface FunctionNetwork {
  readonly vpc: ec2.IVpc;
  readonly subnets: readonly ec2.ISubnet[];
  readonly securityGroups: readonly ec2.ISecurityGroup[];
}

/** Props of {@link RekeyFunction}. */
export interface RekeyFunctionProps {
  /** Which function (sets the entry, sizing and names). */
  readonly name: FunctionName;
  /** Path of the handler file, relative to the project root. */
  readonly entry: string;
  /** Environment variables (names from shared/config/env-names.ts). */
  readonly environment: Readonly<Record<string, string>>;
  /** Log retention. */
  readonly logRetention: logs.RetentionDays;
  /**
   * Reserved concurrency.
   * @default - unreserved
   */
  readonly reservedConcurrency?: number;
  /**
   * Run inside this VPC (cache access).
   * @default - outside any VPC
   */
  readonly network?: FunctionNetwork;
  /**
   * Invoked asynchronously (Scheduler, EventBridge): retry, then keep the event in a failure queue.
   * @default true
   */
  readonly asyncInvoked?: boolean;
}

/**
 * The project root: the checkout (the directory holding package-lock.json) when this file runs
 * from its source, the package's dist/ when it runs compiled.
 */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

/** The file name of a pre-built handler bundle: NodejsFunction's own CommonJS output name. */
export const PREBUILT_BUNDLE_FILE = 'index.js';

/**
 * The folder holding the pre-built bundle of a handler (`functions/<name>/handler.ts` ->
 * `<root>/functions/<name>/`, with index.js in it), or undefined where none was built (the
 * checkout, whose functions/<name>/ holds only TypeScript).
 *
 * @example
 * prebuiltBundleDir('functions/rotate/handler.ts'); // '/app/node_modules/rekey-kms/dist/functions/rotate' when installed
 */
export function prebuiltBundleDir(entry: string, root: string = PROJECT_ROOT): string | undefined {
  const dir = path.join(root, path.dirname(entry));
  return existsSync(path.join(dir, PREBUILT_BUNDLE_FILE)) ? dir : undefined;
}

/**
 * A rekey Lambda function with its role, log group and failure queue.
 *
 * @example
 * const rotate = new RekeyFunction(this, 'Rotate', { name: 'rotate', entry: 'functions/rotate/handler.ts', environment, logRetention });
 * rotate.role.addToPrincipalPolicy(statement);
 */
export class RekeyFunction extends Construct {
  /** The function. */
  public readonly fn: NodejsFunction;
  /** Its execution role; used by nothing else. */
  public readonly role: iam.Role;
  /** Where asynchronous invocations that failed every retry end up (absent for synchronous functions). */
  public readonly failureQueue?: sqs.Queue;
  /** The function's log group. */
  public readonly logGroup: logs.LogGroup;

  public constructor(scope: Construct, id: string, props: RekeyFunctionProps) {
    super(scope, id);
    const sizing = FUNCTION_SIZING[props.name];
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `rekey ${props.name} function`,
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.logGroup.logGroupArn] }),
    );
    if (props.network !== undefined) {
      // The ENI actions a VPC function needs (those of AWSLambdaVPCAccessExecutionRole); Describe* has no resource-level permission.
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
          resources: ['*'],
        }),
      );
    }
    const asyncInvoked = props.asyncInvoked ?? true;
    if (asyncInvoked) this.failureQueue = new sqs.Queue(this, 'FailureQueue', deadLetterQueueProps());

    const prebuilt = prebuiltBundleDir(props.entry);
    this.fn = new NodejsFunction(this, 'Function', {
      // Same handler either way: NodejsFunction turns 'handler' into 'index.handler' when it bundles.
      ...(prebuilt === undefined
        ? {
            entry: path.join(PROJECT_ROOT, props.entry),
            handler: 'handler',
            projectRoot: PROJECT_ROOT,
            depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
            bundling: FUNCTION_BUNDLING,
          }
        : { code: lambda.Code.fromAsset(prebuilt), handler: 'index.handler' }),
      runtime: FUNCTION_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: sizing.memoryMiB,
      timeout: sizing.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: { ...props.environment },
      description: `rekey ${props.name}`,
      ...(props.reservedConcurrency === undefined ? {} : { reservedConcurrentExecutions: props.reservedConcurrency }),
      ...(props.network === undefined
        ? {}
        : {
            vpc: props.network.vpc,
            vpcSubnets: { subnets: [...props.network.subnets] },
            securityGroups: [...props.network.securityGroups],
          }),
      ...(this.failureQueue === undefined
        ? {}
        : {
            onFailure: new SqsDestination(this.failureQueue),
            retryAttempts: 2,
            maxEventAge: DELIVERY_RETRY.maxEventAge,
          }),
    });
  }
}
