/**
 * CacheStore: where encrypted cache entries live (Redis/ElastiCache, or process memory).
 * Values are always envelopes. Every entry is indexed by (keyring, version) when written, so
 * that one version's entries can be dropped with work proportional to their number.
 */

/** Port to a cache backend. */
export interface CacheStore {
  /** Returns the raw stored value, or undefined on a miss. */
  get(key: string): Promise<Buffer | undefined>;
  /** Stores `value` for `ttlSeconds` and indexes it under (keyring, version), atomically. */
  set(key: string, value: Buffer, ttlSeconds: number, keyring: string, version: number): Promise<void>;
  /** Deletes one entry (and its index membership when known). */
  delete(key: string, keyring?: string, version?: number): Promise<void>;
  /** Deletes every entry indexed under (keyring, version); returns how many were deleted. */
  invalidateVersion(keyring: string, version: number): Promise<number>;
  /** Live entries per version of a keyring (approximate for expired-but-indexed entries). */
  countByVersion(keyring: string): Promise<Map<number, number>>;
}
