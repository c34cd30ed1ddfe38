/**
 * The facts the lifecycle needs before it disables or destroys a version, for every backend
 * (AWS and local wire the same rule): record and cache-entry counts per version, the observed
 * use of each version key, and whether a verified escrow copy exists.
 */
import type { KeyUseLog } from '../ports/key-use-log';
import type { FactsSource } from '../ports/facts-source';
import type { EscrowStore } from '../ports/escrow-store';
import type { CacheStore } from '../ports/cache-store';
import { StoreFactsSource } from '../reencrypt/store-facts-source';

/** Where the facts come from. */
export interface LifecycleFactsOptions {
  readonly records: { countByVersion(keyring: string): Promise<Map<number, number>> };
  readonly cache?: Pick<CacheStore, 'countByVersion'>;
  readonly escrowStore: Pick<EscrowStore, 'get'>;
  /**
   * Observed unwraps of version keys (local: the home's log; AWS: CloudTrail's KMS Decrypt
   * calls). Without it no version is disabled while its keyring's quiet period is above zero.
   */
  readonly keyUse?: Pick<KeyUseLog, 'lastUse' | 'observingSince'>;
}

/**
 * The lifecycle's FactsSource over records, cache and escrow.
 *
 * @example
 * const facts = buildLifecycleFacts({ records: recordCounts(targets), cache, escrowStore, keyUse });
 */
export function buildLifecycleFacts(options: LifecycleFactsOptions): FactsSource {
  const { records, cache, escrowStore, keyUse } = options;
  return new StoreFactsSource({
    records,
    ...(cache === undefined ? {} : { cache }),
    ...(keyUse === undefined ? {} : { keyUse }),
    // Destroying needs both: a restore drill proved the copy (the escrow function stamps that
    // in the catalog, which the reconciler hands over as it read it), and the record exists in
    // the Object Lock bucket.
    escrowVerified: async (keyring, version, recorded) => {
      if (recorded.escrowVerifiedAt === undefined) return false;
      return (await escrowStore.get(keyring, version)) !== undefined;
    },
  });
}
