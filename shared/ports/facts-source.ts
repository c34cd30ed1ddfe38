/**
 * FactsSource: what the lifecycle needs to know from outside the catalog before it may disable
 * or destroy a version. Implemented over the RecordStore, CacheStore, escrow store and the
 * KeyUseLog (observed unwraps of version keys).
 */
import type { KeyVersion } from '../catalog/model';
import type { KeyUse } from './key-use-log';

/**
 * How many places still reference each version of one keyring, from one count of each store
 * (a count by index, never by reading payloads). A version absent from a map has none there.
 */
export interface ReferenceCounts {
  /** Stored records per version, summed over every record store of the keyring. */
  readonly records: ReadonlyMap<number, number>;
  /** Cache entries per version; undefined when no cache is configured (only records count). */
  readonly cacheEntries?: ReadonlyMap<number, number>;
  /**
   * Declared sources that could not be counted this time (`cache` when the configured cache did
   * not answer): their references are unknown, so no version may be disabled or destroyed.
   */
  readonly uncounted?: readonly string[];
}

/** The observed use of one keyring's version keys. */
export interface KeyUseObservation {
  /** The last observed use per version; a version never seen is absent. */
  readonly lastUse: ReadonlyMap<number, KeyUse>;
  /** Since when uses are observed; undefined: the log cannot say (silence then proves nothing). */
  readonly observingSince?: Date;
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
  /**
   * The observed use of `keyring`'s version keys. Optional: a source without it knows no use,
   * and a version then waits out no quiet period it cannot prove (it is never disabled while
   * its policy asks for one).
   */
  keyUse?(keyring: string): Promise<KeyUseObservation>;
}
