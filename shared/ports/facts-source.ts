/**
 * FactsSource: what the lifecycle needs to know from outside the catalog before it may disable
 * or destroy a version. Implemented over the RecordStore, CacheStore and escrow store.
 */
import type { KeyVersion } from '../catalog/model';

/**
 * How many places still reference each version of one keyring, from one count of each store
 * (a count by index, never by reading payloads). A version absent from a map has none there.
 */
export interface ReferenceCounts {
  /** Stored records per version, summed over every record store of the keyring. */
  readonly records: ReadonlyMap<number, number>;
  /** Cache entries per version; undefined when no cache is reachable (only records count). */
  readonly cacheEntries?: ReadonlyMap<number, number>;
}

/** Port to the facts of one keyring. */
export interface FactsSource {
  /** Records and cache entries per version of `keyring`: one answer serves every version. */
  referenceCounts(keyring: string): Promise<ReferenceCounts>;
  /**
   * Whether an escrow copy of the version exists and a restore drill verified it. `recorded` is
   * the version as the catalog being planned on records it (its drill stamp), so the answer
   * needs no catalog read of its own.
   */
  escrowVerified(keyring: string, version: number, recorded: KeyVersion): Promise<boolean>;
}
