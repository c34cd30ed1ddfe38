/**
 * The S3 stores a service set adds to its core: the escrow store (Object Lock bucket) and one
 * record store per configured record target, with their record counts summed per keyring.
 */
import { S3EscrowStore } from '../../adapters/aws/s3-escrow-store';
import { S3RecordStore } from '../../adapters/aws/s3-record-store';
import type { TargetStore } from '../../ports/target-store';
import type { AwsCore } from './aws-core';

/**
 * The escrow store over the core's S3 client.
 *
 * @example
 * const escrowStore = buildEscrowStore(core);
 */
export function buildEscrowStore(core: AwsCore): S3EscrowStore {
  return new S3EscrowStore({ client: core.s3, bucket: core.config.escrowBucket, retentionDays: core.config.escrowRetentionDays, clock: core.clock });
}

/**
 * One record store per configured record target, over the core's S3 client.
 *
 * @example
 * const targets = buildRecordTargets(core); // [{ target: { keyring, bucket, prefix }, store }]
 */
export function buildRecordTargets(core: AwsCore): TargetStore[] {
  return core.config.recordTargets.map((target) => ({
    target,
    store: new S3RecordStore({ client: core.s3, bucket: target.bucket, prefix: target.prefix, layout: target.layout }),
  }));
}

/** Anything that counts a keyring's records per version (S3 and table targets do). */
export interface CountedTarget {
  readonly target: { readonly keyring: string };
  readonly store: { countByVersion(keyring: string): Promise<Map<number, number>> };
}

/**
 * Record counts of a keyring summed over its targets (a keyring may span buckets and tables).
 *
 * @example
 * await recordCounts(buildRecordTargets(core)).countByVersion('pii'); // Map { 3 => 120 }
 */
export function recordCounts(targets: readonly CountedTarget[]): { countByVersion(keyring: string): Promise<Map<number, number>> } {
  return {
    async countByVersion(keyring: string): Promise<Map<number, number>> {
      const total = new Map<number, number>();
      for (const { target, store } of targets) {
        if (target.keyring !== keyring) continue;
        for (const [version, n] of await store.countByVersion(keyring)) total.set(version, (total.get(version) ?? 0) + n);
      }
      return total;
    },
  };
}
