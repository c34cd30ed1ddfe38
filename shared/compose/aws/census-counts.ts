/**
 * Record counts of S3 targets from their census (shared/reencrypt/census.ts) instead of a
 * listing: one GET of the census and a listing of the writes marked since it, whatever the
 * target's size. A target without a usable census (never swept to completion, a bucket without
 * EventBridge notifications, a run that could not place a record, a census older than its
 * marks are kept) is counted as before, by listing and HEADing its objects: the census is an
 * optimisation, never a reason to count less.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { AccessDeniedError } from '../../errors';
import { S3RecordCensus } from '../../adapters/aws/s3-record-census';
import { S3SweepResults } from '../../adapters/aws/s3-sweep-results';
import { FUNCTION_SDK_TIMEOUTS, newSdkClient } from '../../adapters/aws/sdk-client-options';
import { SqsLossQueues } from '../../adapters/aws/sqs-loss-queues';
import type { RecordCensusStore } from '../../ports/record-census';
import type { TargetStore } from '../../ports/target-store';
import { combine, marksSince, unusableCensus, type CensusUnusable } from '../../reencrypt/census';
import type { AwsCore } from './aws-core';
import type { CountedTarget } from './s3-stores';

/** Write marks read at most per count before the target is counted by listing instead. */
export const MAX_CENSUS_MARKS = 500_000;

/** How one count was made (for logs and tests). */
export type CountSource =
  | { readonly kind: 'census'; readonly marks: number }
  | { readonly kind: 'listing'; readonly why: CensusUnusable | 'too-many-marks' | 'marks-lost' | 'notifications-off' };

/**
 * What must hold now, at each count, besides a usable census: the bucket still sends its events
 * (a later PutBucketNotificationConfiguration may have dropped EventBridge), and no write mark was
 * lost (its event is in a dead-letter or failure queue).
 */
export interface CensusEvidence {
  writeEventsOn(bucket: string): Promise<boolean>;
  anyMarkLost(): Promise<boolean>;
}

/** Options of {@link censusCounted}. */
export interface CensusCountedOptions {
  readonly census: RecordCensusStore;
  readonly evidence: CensusEvidence;
  readonly clock: () => Date;
  /** Told how each count was made. */
  readonly onCount?: (target: TargetStore['target'], source: CountSource) => void;
}

/**
 * The evidence on AWS: the bucket's notification configuration, and the loss queues the stack
 * names in REKEY_CENSUS_LOSS_QUEUES (unknown queues: a mark may have been lost, no census is used).
 *
 * @example
 * const evidence = buildCensusEvidence(core);
 */
export function buildCensusEvidence(core: AwsCore): CensusEvidence {
  const notifications = new S3SweepResults(core.s3);
  // The client's endpoint, not the queue URL's host (the SDK's default): the same host on AWS,
  // and the configured endpoint (a VPC endpoint, AWS_ENDPOINT_URL) wherever one is set.
  const sqs = core.options.clients?.sqs ?? newSdkClient(SQSClient, { ...core.region, useQueueUrlAsEndpoint: false }, FUNCTION_SDK_TIMEOUTS);
  const queues = new SqsLossQueues(sqs, core.config.censusLossQueueUrls);
  return { writeEventsOn: (bucket) => notifications.eventBridgeEnabled(bucket), anyMarkLost: () => queues.anyLost() };
}

/**
 * The census options of the core: its state bucket's census, the evidence, its clock.
 *
 * @example
 * allRecordCounts(s3Targets, tables, censusOptions(core));
 */
export function censusOptions(core: AwsCore): CensusCountedOptions {
  return { census: buildCensusStore(core), evidence: buildCensusEvidence(core), clock: core.clock };
}

/**
 * The census store of the core's state bucket.
 *
 * @example
 * const census = buildCensusStore(core);
 */
export function buildCensusStore(core: AwsCore): S3RecordCensus {
  return new S3RecordCensus({ client: core.s3, bucket: core.config.catalogBucket });
}

/**
 * S3 targets whose counts come from their census when it is usable.
 *
 * @example
 * const counted = censusCounted(buildRecordTargets(core), censusOptions(core));
 * await recordCounts(counted).countByVersion('pii'); // Map { 4 => 1200000 }
 */
export function censusCounted(targets: readonly TargetStore[], options: CensusCountedOptions): CountedTarget[] {
  return targets.map((t) => ({
    target: t.target,
    store: {
      countByVersion: async (keyring: string): Promise<Map<number, number>> => {
        const census = await options.census.read(t.target);
        const why = unusableCensus(census, options.clock());
        const listing = (reason: Extract<CountSource, { kind: 'listing' }>['why']): Promise<Map<number, number>> => {
          options.onCount?.(t.target, { kind: 'listing', why: reason });
          return t.store.countByVersion(keyring);
        };
        if (why !== undefined || census === undefined) return listing(why ?? 'none');
        // Evidence a caller may not read (an operator without the bucket or queue permissions) says nothing: listing.
        if (!(await orFalse(options.evidence.writeEventsOn(t.target.bucket)))) return listing('notifications-off');
        if (!(await orFalse(options.evidence.anyMarkLost().then((lost) => !lost)))) return listing('marks-lost');
        const writes = await options.census.writesSince(t.target, marksSince(census), MAX_CENSUS_MARKS);
        if (writes === 'cannot-say') return listing('too-many-marks');
        options.onCount?.(t.target, { kind: 'census', marks: writes.length });
        return combine(census, writes).byVersion;
      },
    },
  }));
}

/** The answer, or false when the caller may not ask (AccessDeniedError): no evidence. */
async function orFalse(answer: Promise<boolean>): Promise<boolean> {
  try {
    return await answer;
  } catch (err) {
    if (err instanceof AccessDeniedError) return false;
    throw err;
  }
}
