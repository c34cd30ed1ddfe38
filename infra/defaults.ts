/**
 * Secure defaults, kept apart from composition (the rekey stack only assembles them): bucket,
 * queue and function settings that every instance gets, and the esbuild options that both the
 * stack and bench/bundles.ts use, so the benchmark measures exactly what is deployed.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';

/** The Lambda runtime of every rekey function: the newest Node.js Lambda offers. */
export const FUNCTION_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** The esbuild target matching {@link FUNCTION_RUNTIME}. */
export const ESBUILD_TARGET = 'node24';

/**
 * esbuild options shared by the stack's NodejsFunctions and bench/bundles.ts. Everything is
 * bundled (the SDK too, so the deployed code runs the versions the tests ran); `module` before
 * `main` picks the SDK's ES builds, which tree-shake about a third smaller. No `keepNames`: it
 * grows every bundle by about 6%; an error's `name` (what Step Functions retries and the
 * handlers map on) is declared by its class (shared/errors.ts) and survives any minifier.
 */
export const ESBUILD_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: ESBUILD_TARGET,
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  external: [] as string[],
} as const;

/** The same options in NodejsFunction's vocabulary (local esbuild, never Docker). */
export const FUNCTION_BUNDLING: BundlingOptions = {
  minify: ESBUILD_OPTIONS.minify,
  sourceMap: ESBUILD_OPTIONS.sourcemap,
  sourcesContent: ESBUILD_OPTIONS.sourcesContent,
  mainFields: [...ESBUILD_OPTIONS.mainFields],
  target: ESBUILD_OPTIONS.target,
  format: OutputFormat.CJS,
  externalModules: [...ESBUILD_OPTIONS.external],
  forceDockerBundling: false,
  // esbuild's per-bundle size table and timing are noise in `cdk synth` and the tests; its
  // warnings and errors still print.
  logLevel: LogLevel.WARNING,
};

/** Sizing of one function: memory, timeout, and (optionally) reserved concurrency. */
export interface FunctionSizing {
  readonly memoryMiB: number;
  readonly timeout: Duration;
}

/**
 * Memory and timeout per function. KMS and S3 latency dominate, so memory buys network and CPU
 * for JSON and AES only where batches are large (reencrypt, escrow drill, grace-period counts).
 */
export const FUNCTION_SIZING = {
  rotate: { memoryMiB: 256, timeout: Duration.minutes(1) },
  'grace-period': { memoryMiB: 512, timeout: Duration.minutes(5) },
  reencrypt: { memoryMiB: 1024, timeout: Duration.minutes(5) },
  'cache-invalidate': { memoryMiB: 256, timeout: Duration.minutes(2) },
  escrow: { memoryMiB: 512, timeout: Duration.minutes(5) },
  revoke: { memoryMiB: 512, timeout: Duration.minutes(10) },
  'key-access': { memoryMiB: 256, timeout: Duration.minutes(1) },
  // One keyring per custom resource request: a catalog read, at most one KMS call, one write.
  provision: { memoryMiB: 256, timeout: Duration.minutes(1) },
  // One CloudTrail event per invocation: a read and at most a few conditional writes of one small document.
  'key-use': { memoryMiB: 256, timeout: Duration.seconds(30) },
} as const satisfies Record<string, FunctionSizing>;

/** Names of the functions the stack deploys. */
export type FunctionName = keyof typeof FUNCTION_SIZING;

/** Props of every bucket the stack creates: private, TLS-only, versioned, retained. */
export function secureBucketProps(): s3.BucketProps {
  return {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    versioned: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    removalPolicy: RemovalPolicy.RETAIN,
  };
}

/**
 * Props of every dead-letter queue: SSE-SQS (EventBridge and Scheduler can deliver without a
 * key-policy grant, and DLQ messages carry only event metadata: keyring, version, reason),
 * TLS-only, 14 days to investigate.
 */
export function deadLetterQueueProps(): sqs.QueueProps {
  return {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    removalPolicy: RemovalPolicy.RETAIN,
  };
}

/** Retries of a scheduled or event-driven invocation before its event goes to a dead-letter queue. */
export const DELIVERY_RETRY = { attempts: 3, maxEventAge: Duration.hours(1) } as const;

/** The handler file of every function the stack deploys (and the bundle benchmark builds). */
export const FUNCTION_ENTRIES: Readonly<Record<FunctionName, string>> = {
  rotate: 'functions/rotate/handler.ts',
  'grace-period': 'functions/grace-period/handler.ts',
  reencrypt: 'functions/reencrypt/handler.ts',
  'cache-invalidate': 'functions/cache-invalidate/handler.ts',
  escrow: 'functions/escrow/handler.ts',
  revoke: 'functions/revoke/handler.ts',
  'key-access': 'functions/key-access/handler.ts',
  provision: 'functions/provision/handler.ts',
  'key-use': 'functions/key-use/handler.ts',
};
