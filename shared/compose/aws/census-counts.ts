/**
 * Record counts of S3 targets from their census (shared/reencrypt/census.ts) instead of a
 * listing: one GET of the census and a listing of the writes marked since it, whatever the
 * target's size. A target without a usable census (never swept to completion, a bucket without
 * EventBridge notifications, a run that could not place a record, a census older than its
 * marks are kept) is counted as before, by listing and HEADing its objects: the census is an
 * optimisation, never a reason to count less.
 */
import { S3RecordCensus } from '../../adapters/aws/s3-record-census';
import type { RecordCensusStore } from '../../ports/record-census';
import type { TargetStore } from '../../ports/target-store';
import { combine, marksSince, unusableCensus, type CensusUnusable } from '../../reencrypt/census';
import type { AwsCore } from './aws-core';
import type { CountedTarget } from './s3-stores';

/** Write marks read at most per count before the target is counted by listing instead. */
export const MAX_CENSUS_MARKS = 100_000;

/** How one count was made (for logs and tests). */
export type CountSource = { readonly kind: 'census'; readonly marks: number } | { readonly kind: 'listing'; readonly why: CensusUnusable | 'too-many-marks' };

/** Options of {@link censusCounted}. */
export interface CensusCountedOptions {
  readonly census: RecordCensusStore;
  readonly clock: () => Date;
  /** Told how each count was made. */
  readonly onCount?: (target: TargetStore['target'], source: CountSource) => void;
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
 * const counted = censusCounted(buildRecordTargets(core), { census: buildCensusStore(core), clock: core.clock });
 * await recordCounts(counted).countByVersion('pii'); // Map { 4 => 1200000 }
 */
export function censusCounted(targets: readonly TargetStore[], options: CensusCountedOptions): CountedTarget[] {
  return targets.map((t) => ({
    target: t.target,
    store: {
      countByVersion: async (keyring: string): Promise<Map<number, number>> => {
        const census = await options.census.read(t.target);
        const why = unusableCensus(census, options.clock());
        if (why === undefined && census !== undefined) {
          const writes = await options.census.writesSince(t.target, marksSince(census), MAX_CENSUS_MARKS);
          if (writes !== 'cannot-say') {
            options.onCount?.(t.target, { kind: 'census', marks: writes.length });
            return combine(census, writes).byVersion;
          }
          options.onCount?.(t.target, { kind: 'listing', why: 'too-many-marks' });
        } else {
          options.onCount?.(t.target, { kind: 'listing', why: why ?? 'none' });
        }
        return t.store.countByVersion(keyring);
      },
    },
  }));
}
