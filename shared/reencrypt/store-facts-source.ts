/**
 * StoreFactsSource: the lifecycle's FactsSource over the places that can still reference a
 * key version: stored records and cache entries (both counted per version by index, never by
 * reading payloads), the observed use of the version keys (a KeyUseLog), plus an injected
 * escrow check.
 */
import type { KeyVersion } from '../catalog/model';
import type { FactsSource, KeyUseObservation, ReferenceCounts } from '../ports/facts-source';
import type { CacheStore } from '../ports/cache-store';
import type { KeyUseLog } from '../ports/key-use-log';
import type { RecordStore } from '../ports/record-store';

/** Dependencies of {@link StoreFactsSource}. */
export interface StoreFactsSourceOptions {
  readonly records: Pick<RecordStore, 'countByVersion'>;
  /**
   * Optional: without a cache, only records count as references. With one, a cache that does
   * not answer is reported `uncounted` (its references are unknown and block disabling).
   */
  readonly cache?: Pick<CacheStore, 'countByVersion'>;
  /**
   * Whether a verified escrow copy of the version exists (EscrowService in production);
   * `recorded` is the version as the catalog being planned on records it.
   */
  readonly escrowVerified: (keyring: string, version: number, recorded: KeyVersion) => Promise<boolean>;
  /** Observed key use. Optional: without it no use is known and quiet periods cannot be met. */
  readonly keyUse?: Pick<KeyUseLog, 'lastUse' | 'observingSince'>;
}

/** The name an unreachable cache is reported under in `ReferenceCounts.uncounted`. */
export const CACHE_SOURCE = 'cache';

/**
 * FactsSource counting records and cache entries per version: one count of each store answers
 * for every version of the keyring.
 *
 * @example
 * const facts = new StoreFactsSource({ records, cache, escrowVerified: async () => false });
 * const counts = await facts.referenceCounts('pii'); // counts.records.get(1) === 2
 */
export class StoreFactsSource implements FactsSource {
  private readonly options: StoreFactsSourceOptions;

  public constructor(options: StoreFactsSourceOptions) {
    this.options = options;
  }

  /**
   * Records and cache entries per version of `keyring`, the two stores counted in parallel. A
   * record store that fails fails the call (nothing can be decided); a cache that fails is
   * reported `uncounted`, so rotation still proceeds while disabling waits.
   */
  public async referenceCounts(keyring: string): Promise<ReferenceCounts> {
    const { records, cache } = this.options;
    const counted = cache?.countByVersion(keyring).then(
      (entries) => ({ entries }),
      () => ({ entries: undefined }),
    );
    const [recordCounts, cacheResult] = await Promise.all([records.countByVersion(keyring), counted]);
    if (cacheResult === undefined) return { records: recordCounts };
    if (cacheResult.entries === undefined) return { records: recordCounts, uncounted: [CACHE_SOURCE] };
    return { records: recordCounts, cacheEntries: cacheResult.entries };
  }

  /** Delegates to the injected escrow check. */
  public async escrowVerified(keyring: string, version: number, recorded: KeyVersion): Promise<boolean> {
    return this.options.escrowVerified(keyring, version, recorded);
  }

  /** The key-use log's answer for `keyring`, or nothing observed without a log. */
  public async keyUse(keyring: string): Promise<KeyUseObservation> {
    const log = this.options.keyUse;
    if (log === undefined) return { lastUse: new Map() };
    const [lastUse, observingSince] = await Promise.all([log.lastUse(keyring), log.observingSince(keyring)]);
    return observingSince === undefined ? { lastUse } : { lastUse, observingSince };
  }
}
