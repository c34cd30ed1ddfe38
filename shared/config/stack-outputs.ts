/**
 * Names of the rekey stack's CloudFormation outputs and the environment variable each one
 * feeds, so that the CLI's AWS mode can turn `DescribeStacks` outputs into the same
 * configuration the functions read (./load-config.ts). The stack (infra/) declares its
 * outputs from this table and the CLI reads them with it, so neither imports the other.
 */
import { ENV } from './env-names';

/**
 * Output key → environment variable name (undefined: informational, no variable).
 *
 * @example
 * for (const o of stack.Outputs ?? []) {
 *   const name = STACK_OUTPUTS[o.OutputKey as StackOutputKey];
 *   if (name !== undefined) env[name] = o.OutputValue;
 * }
 */
export const STACK_OUTPUTS = {
  CatalogBucket: ENV.catalogBucket,
  CatalogPrefix: ENV.catalogPrefix,
  KeyringKeys: ENV.keyringKeys,
  EscrowBucket: ENV.escrowBucket,
  EscrowKeyArn: ENV.escrowKeyArn,
  RecordTargets: ENV.recordTargets,
  TableTargets: ENV.tableTargets,
  /** JSON array of the queues where lost census marks end up (with S3 record targets). */
  CensusLossQueues: ENV.censusLossQueues,
  EventBusName: ENV.eventBusName,
  SweepStateMachineArn: ENV.sweepStateMachineArn,
  BreakerThreshold: ENV.breakerThreshold,
  CacheName: ENV.cacheName,
  /** Catalog cache lifetime in ms that the stack's functions use; a consumer's client must not trust a catalog longer. */
  CatalogTtlMs: ENV.catalogTtlMs,
  /** ARN of the ops key (the catalog bucket's key): a consumer's identity policy names it. */
  OpsKeyArn: undefined,
  /** JSON array of the account ids whose roles the consumer registry may name. */
  ConsumerAccounts: undefined,
  /** JSON object: function (rotate, grace-period, ...) → Lambda function name. */
  FunctionNames: undefined,
  /** The SNS topic alarms notify. */
  AlarmTopicArn: undefined,
} as const;

/** A key of {@link STACK_OUTPUTS}. */
export type StackOutputKey = keyof typeof STACK_OUTPUTS;
