/**
 * StoreFactsSource: the lifecycle's FactsSource over the places that can still reference a
 * key version: stored records and cache entries (both counted per version by index, never by
 * reading payloads), plus an injected escrow check.
 */
import type { FactsSource } from '../ports/facts-source';
import type { CacheStore } from '../ports/cache-store';
import type { RecordStore } from '../ports/record-store';

/** Dependencies of {@link StoreFactsSource}. */
export interface StoreFactsSourceOptions {
  readonly records: Pick<RecordStore, 'countByVersion'>;
  /** Optional: without a cache, only records count as references. */
  readonly cache?: Pick<CacheStore, 'countByVersion'>;
  /** Whether a verified escrow copy of the version exists (EscrowService in production). */
  readonly escrowVerified: (keyring: string, version: number) => Promise<boolean>;
}

/**
 * FactsSource counting records and cache entries per version.
 *
 * @example
 * const facts = new StoreFactsSource({ records, cache, escrowVerified: async () => false });
 * await facts.references('pii', 1); // records + cache entries under pii v1
 */
export class StoreFactsSource implements FactsSource {
  private readonly options: StoreFactsSourceOptions;

  public constructor(options: StoreFactsSourceOptions) {
    this.options = options;
  }

  /** Records plus cache entries still under `version` of `keyring`. */
  public async references(keyring: string, version: number): Promise<number> {
    const [records, cache] = await Promise.all([
      this.options.records.countByVersion(keyring),
      this.options.cache?.countByVersion(keyring) ?? Promise.resolve(new Map<number, number>()),
    ]);
    return (records.get(version) ?? 0) + (cache.get(version) ?? 0);
  }

  /** Delegates to the injected escrow check. */
  public async escrowVerified(keyring: string, version: number): Promise<boolean> {
    return this.options.escrowVerified(keyring, version);
  }
}
