/**
 * StoreFactsSource: the lifecycle's FactsSource over the places that can still reference a
 * key version: stored records and cache entries (both counted per version by index, never by
 * reading payloads), plus an injected escrow check.
 */
import type { KeyVersion } from '../catalog/model';
import type { FactsSource, ReferenceCounts } from '../ports/facts-source';
import type { CacheStore } from '../ports/cache-store';
import type { RecordStore } from '../ports/record-store';

/** Dependencies of {@link StoreFactsSource}. */
export interface StoreFactsSourceOptions {
  readonly records: Pick<RecordStore, 'countByVersion'>;
  /** Optional: without a cache, only records count as references. */
  readonly cache?: Pick<CacheStore, 'countByVersion'>;
  /**
   * Whether a verified escrow copy of the version exists (EscrowService in production);
   * `recorded` is the version as the catalog being planned on records it.
   */
  readonly escrowVerified: (keyring: string, version: number, recorded: KeyVersion) => Promise<boolean>;
}

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

  /** Records and cache entries per version of `keyring`, the two stores counted in parallel. */
  public async referenceCounts(keyring: string): Promise<ReferenceCounts> {
    const { records, cache } = this.options;
    const [recordCounts, cacheEntries] = await Promise.all([records.countByVersion(keyring), cache?.countByVersion(keyring)]);
    return cacheEntries === undefined ? { records: recordCounts } : { records: recordCounts, cacheEntries };
  }

  /** Delegates to the injected escrow check. */
  public async escrowVerified(keyring: string, version: number, recorded: KeyVersion): Promise<boolean> {
    return this.options.escrowVerified(keyring, version, recorded);
  }
}
