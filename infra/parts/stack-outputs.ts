/**
 * The stack's CloudFormation outputs: what the CLI's AWS mode reads back with DescribeStacks
 * (keys and their environment variables in ../outputs.ts).
 */
import { CfnOutput, Stack } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { ENV } from '../../shared/config/env-names';
import type { RekeyFunction } from '../constructs/rekey-function';
import type { SweepStateMachine } from '../constructs/sweep-state-machine';
import type { FunctionName } from '../defaults';
import { DEFAULT_CATALOG_TTL_MS } from '../../shared/vocabulary/catalog-cache';
import type { StackOutputKey } from '../outputs';
import type { ResolvedRekeyConfig } from '../props';

/** The values the outputs publish. */
export interface StackOutputsProps {
  readonly config: ResolvedRekeyConfig;
  /** JSON of the census loss queues (parts/record-census.ts); absent without S3 record targets. */
  readonly censusLossQueues?: string;
  /** The functions' shared environment (its JSON values are published as they are). */
  readonly environment: Readonly<Record<string, string>>;
  readonly catalogBucket: s3.IBucket;
  readonly escrowBucket: s3.IBucket;
  readonly escrowKey: kms.IKey;
  readonly opsKey: kms.IKey;
  /** The consumer registry's bound (parts/consumer-registry.ts). */
  readonly consumerAccounts: readonly string[];
  readonly eventBus: events.IEventBus;
  readonly sweep: SweepStateMachine;
  readonly functions: Readonly<Record<FunctionName, RekeyFunction>>;
  readonly alarmTopic: sns.ITopic;
}

/**
 * Adds every output of {@link StackOutputKey} to the stack of `scope`. Each output's logical id
 * is its key whatever the construct's path, because the CLI and the client read them by key.
 *
 * @example
 * addStackOutputs(rekey, { config, environment, catalogBucket, escrowBucket, escrowKey, opsKey, consumerAccounts, eventBus, sweep, functions, alarmTopic });
 */
export function addStackOutputs(scope: Construct, props: StackOutputsProps): void {
  const { config, environment } = props;
  const stack = Stack.of(scope);
  const out = (key: StackOutputKey, value: string, description: string): void => {
    new CfnOutput(scope, key, { value, description }).overrideLogicalId(key);
  };
  out('CatalogBucket', props.catalogBucket.bucketName, 'Bucket of catalog documents');
  out('CatalogPrefix', config.catalogPrefix, 'Key prefix of catalog documents');
  out('KeyringKeys', environment[ENV.keyringKeys] ?? '{}', 'JSON: keyring -> KMS key ARN');
  out('EscrowBucket', props.escrowBucket.bucketName, 'Object Lock bucket of escrow records');
  out('EscrowKeyArn', props.escrowKey.keyArn, 'KMS key wrapping escrowed version keys');
  out('RecordTargets', environment[ENV.recordTargets] ?? '[]', 'JSON: record targets the sweep covers');
  out('TableTargets', environment[ENV.tableTargets] ?? '[]', 'JSON: DynamoDB record tables the sweep covers');
  if (props.censusLossQueues !== undefined) out('CensusLossQueues', props.censusLossQueues, 'JSON: queues holding lost census marks (S3 targets are counted by listing while one holds a message)');
  out('EventBusName', props.eventBus.eventBusName, 'Bus for audit events and Key Version Compromised');
  out('SweepStateMachineArn', props.sweep.stateMachine.stateMachineArn, 'Re-encryption sweep (Distributed Map)');
  out('BreakerThreshold', String(config.breakerThreshold), 'Decrypt-failure ratio that trips the circuit breaker');
  if (config.cache !== undefined) out('CacheName', config.cache.name, 'ElastiCache holding the encrypted cache');
  out('FunctionNames', stack.toJsonString(Object.fromEntries(Object.entries(props.functions).map(([n, f]) => [n, f.fn.functionName]))), 'JSON: rekey function -> Lambda name');
  out('AlarmTopicArn', props.alarmTopic.topicArn, 'SNS topic of rekey alarms');
  // The functions set no REKEY_CATALOG_TTL_MS, so they use the default; a consumer must not exceed it.
  out('CatalogTtlMs', environment[ENV.catalogTtlMs] ?? String(DEFAULT_CATALOG_TTL_MS), 'Catalog cache lifetime (ms) of the stack; consumers trust a catalog at most this long');
  out('OpsKeyArn', props.opsKey.keyArn, 'KMS key of the catalog bucket (consumers decrypt catalog documents with it through S3)');
  out('ConsumerAccounts', stack.toJsonString(props.consumerAccounts), 'JSON: accounts whose roles the consumer registry may name');
}
