/** The encrypted cache: envelopes (never plaintext) in a CacheStore, refused once their version is. */
export { EncryptedCache, CACHE_KEY_CONTEXT } from './encrypted-cache';
export type { EncryptedCacheOptions } from './encrypted-cache';
export type { CacheEnvelopes, VersionStates, CacheMetrics, CacheMetricName, CacheSetOptions, CacheGetOptions } from './cache-types';
export { CACHE_LIMITS, assertCacheKey, assertKeyring, assertVersion, assertTtl, assertValue } from './cache-input';
