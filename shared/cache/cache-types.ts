/**
 * What the encrypted cache needs from its neighbours, named by role so that it can be built
 * against the envelope layer and the key provider without importing them.
 */
import type { VersionState } from '../catalog/model';
import type { CallerContext, Decrypted, DecryptOptions, EncryptOptions, EnvelopeInfo } from '../envelope/api';

/** The part of `EnvelopeClient` the cache uses. */
export interface CacheEnvelopes {
  encrypt(keyring: string, plaintext: Buffer, opts?: EncryptOptions): Promise<Buffer>;
  decrypt(envelope: Buffer, opts?: DecryptOptions): Promise<Decrypted>;
  /** Reads the header without a key; throws DecryptError on anything that is not an envelope. */
  inspect(envelope: Buffer): EnvelopeInfo;
}

/** Where the cache learns a version's current state (`CatalogKeyProvider.versionState`). */
export interface VersionStates {
  /** The state of (keyring, version), or undefined when the keyring or version is unknown. */
  versionState(keyring: string, version: number): Promise<VersionState | undefined>;
}

/** Names of the counters the cache emits. */
export type CacheMetricName =
  /** The backend failed or was too slow: a read became a miss, a write was skipped. */
  | 'cache.degraded'
  | 'cache.hit'
  | 'cache.miss'
  /** An entry of a revoked, disabled, destroyed or unknown version was found and deleted. */
  | 'cache.refused'
  /** A stored value was not a valid envelope for this key (garbage, truncated, tampered): deleted. */
  | 'cache.malformed';

/**
 * A counter sink (Powertools Metrics, CloudWatch EMF, a test array). Dimensions carry
 * operation names and reasons only, never keys, values or context.
 */
export interface CacheMetrics {
  increment(name: CacheMetricName, dimensions: Readonly<Record<string, string>>): void;
}

/** Options of `EncryptedCache.set`. */
export interface CacheSetOptions {
  /** Lifetime of the entry; defaults to the cache's `defaultTtlSeconds`. */
  readonly ttlSeconds?: number;
  /** Caller context bound into the envelope; the same context is needed to read it. */
  readonly context?: CallerContext;
}

/** Options of `EncryptedCache.get`. */
export interface CacheGetOptions {
  /** The context the entry was written with. */
  readonly context?: CallerContext;
}
