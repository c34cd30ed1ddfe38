/**
 * The record census on AWS (shared/usecases/record-census.ts): S3 record targets are counted
 * from their last sweep's census plus a mark per write S3 reported since, instead of listing
 * and HEADing every object on every count.
 *
 * - A rule on the default bus receives S3's `Object Created` events of the record target
 *   buckets (the buckets must have EventBridge notifications on: docs/deploy.md) and hands them
 *   to the key-use function, which reads the written object's header (a ranged GET) and writes
 *   an empty mark under `census/` in the state bucket.
 * - The reencrypt function, as the sweep's census step, reads the map run's results under
 *   `sweeps/`, asks whether the target bucket sends events (GetBucketNotificationConfiguration),
 *   and writes the census document under `census/`.
 * - The lifecycle readers (grace-period, revoke) and operators read the census and list marks.
 * Built in the stack's scope (see storage.ts for why).
 */
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Aws, Names, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ENV } from '../../shared/config/env-names';
import { S3_OBJECT_CREATED, S3_OBJECT_DELETED } from '../../shared/vocabulary/event-names';
import { CENSUS_PREFIX, SWEEP_RESULTS_PREFIX } from '../../shared/vocabulary/record-census';
import type { RekeyFunction } from '../constructs/rekey-function';
import { DELIVERY_RETRY, deadLetterQueueProps, type FunctionName } from '../defaults';
import type { ResolvedRekeyConfig } from '../props';
import type { RekeyStorage } from './storage';

/** Functions that count S3 targets from the census (lifecycle facts). */
export const CENSUS_READERS: readonly FunctionName[] = ['grace-period', 'revoke'];

/** What the census part is built from. */
export interface RecordCensusProps {
  readonly config: ResolvedRekeyConfig;
  readonly storage: RekeyStorage;
  readonly functions: Readonly<Record<FunctionName, RekeyFunction>>;
}

/**
 * The write rule, its dead-letter queue, and every census access.
 *
 * @example
 * const census = new RecordCensus(stack, { config, storage, functions });
 * census.deadLetterQueue; // alarmed with the other rule DLQs (undefined without S3 record targets)
 */
export class RecordCensus {
  /** Dead-letter queue of the write rule's target; undefined without S3 record targets. */
  public readonly deadLetterQueue?: sqs.Queue;
  /** The write rule; undefined without S3 record targets. */
  public readonly rule?: events.Rule;

  private readonly documents: string;
  private readonly bucket: RekeyStorage['catalogBucket'];

  public constructor(scope: Construct, props: RecordCensusProps) {
    const { config, storage, functions: fns } = props;
    this.bucket = storage.catalogBucket;
    // The census documents (census/<keyring>/<target id>.json); marks live under .../writes/.
    this.documents = storage.catalogBucket.arnForObjects(`${CENSUS_PREFIX}*.json`);
    const recordTargets = config.recordTargets;
    if (recordTargets.length === 0) return;
    const keyUse = fns['key-use'];
    const buckets = [...new Set(recordTargets.map((t) => t.bucket))];
    const prefixes = [...new Set(recordTargets.map((t) => t.prefix))];
    this.deadLetterQueue = new sqs.Queue(scope, 'RecordWrittenRuleDlq', deadLetterQueueProps());
    this.rule = new events.Rule(scope, 'RecordWritten', {
      description: 'rekey: a write to a record target (S3) becomes a census write mark',
      eventPattern: {
        source: [S3_OBJECT_CREATED.source],
        // A delete too: on a versioned bucket it can make an older version current again.
        detailType: [S3_OBJECT_CREATED.detailType, S3_OBJECT_DELETED.detailType],
        // "Amazon EventBridge event patterns" (prefix matching on a string value); a target
        // without a prefix takes the whole bucket, so no key filter then.
        detail: {
          bucket: { name: buckets },
          ...(prefixes.includes('') ? {} : { object: { key: prefixes.map((prefix) => ({ prefix })) } }),
        },
      },
      targets: [new targets.LambdaFunction(keyUse.fn, { deadLetterQueue: this.deadLetterQueue, retryAttempts: DELIVERY_RETRY.attempts, maxEventAge: DELIVERY_RETRY.maxEventAge })],
    });

    // key-use reads the written object's header (GetObject, ranged) and writes its mark.
    for (const t of recordTargets) {
      keyUse.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`arn:${Aws.PARTITION}:s3:::${t.bucket}/${t.prefix}*`] }));
      if (t.bucketKmsKeyArn !== undefined) {
        keyUse.role.addToPrincipalPolicy(
          new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [t.bucketKmsKeyArn], conditions: { StringEquals: { 'kms:ViaService': `s3.${Aws.REGION}.amazonaws.com` } } }),
        );
      }
    }
    // Marks only: key-use can never write a census document.
    keyUse.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [storage.catalogBucket.arnForObjects(`${CENSUS_PREFIX}*/writes/*`)] }));

    // The census step: the run's results, the census document (read, then a conditional
    // replace), and whether each target bucket reports its writes. The worker reads the catalog
    // only; writing under the ops key through S3 makes it one of the key's writers.
    const worker = fns.reencrypt.role;
    worker.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [storage.catalogBucket.arnForObjects(`${SWEEP_RESULTS_PREFIX}*`)] }));
    // Documents only (census/<keyring>/<target id>.json): the worker never writes a mark.
    worker.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [this.documents] }));
    worker.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetBucketNotification'], resources: buckets.map((b) => `arn:${Aws.PARTITION}:s3:::${b}`) }));
    worker.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [storage.opsKey.keyArn] }));
    storage.catalogWriters.addPrincipals(worker);

    // Where a lost mark ends up: this rule's DLQ, and key-use's failure queue (async retries spent).
    const loss = [this.deadLetterQueue, keyUse.failureQueue].filter((q): q is sqs.Queue => q !== undefined);
    this.lossQueues = loss;
    this.targetBucketArns = buckets.map((b) => `arn:${Aws.PARTITION}:s3:::${b}`);
    this.lossQueuesJson = Stack.of(scope).toJsonString(loss.map((q) => q.queueUrl));

    // Counting: the census document, a listing of the marks (catalog writers already, ops key
    // through S3), the target buckets' notification configuration and the loss queues' depth.
    for (const name of CENSUS_READERS) {
      this.allowRead(fns[name].role);
      fns[name].fn.addEnvironment(ENV.censusLossQueues, this.lossQueuesJson);
    }
  }

  /** The loss queues' URLs as JSON (REKEY_CENSUS_LOSS_QUEUES, and the CensusLossQueues output); undefined without S3 record targets. */
  public readonly lossQueuesJson?: string;
  private readonly lossQueues: readonly sqs.Queue[] = [];
  private readonly targetBucketArns: readonly string[] = [];

  /**
   * Lets an operator role count from the census (`rekey --aws status --count-records`), on both
   * sides (bucket policy and identity), like its catalog access; the ops key it has already.
   *
   * @example
   * census.grantRead(iam.Role.fromRoleArn(stack, 'Ops', arn, { mutable: false }));
   */
  public grantRead(role: iam.IRole): void {
    const tag = Names.uniqueId(role).replace(/[^A-Za-z0-9]/g, '').slice(-40);
    const principals = [new iam.ArnPrincipal(role.roleArn)];
    this.bucket.addToResourcePolicy(new iam.PolicyStatement({ sid: `OperatorCensus${tag}`, principals, actions: ['s3:GetObject'], resources: [this.documents] }));
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({ sid: `OperatorCensusList${tag}`, principals, actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn], conditions: { StringLike: { 's3:prefix': [`${CENSUS_PREFIX}*`] } } }),
    );
    this.allowRead(role);
  }

  private allowRead(role: iam.IRole): void {
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.documents] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn], conditions: { StringLike: { 's3:prefix': [`${CENSUS_PREFIX}*`] } } }),
    );
    if (this.targetBucketArns.length > 0) role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetBucketNotification'], resources: [...this.targetBucketArns] }));
    if (this.lossQueues.length > 0) role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sqs:GetQueueAttributes'], resources: this.lossQueues.map((q) => q.queueArn) }));
  }
}
