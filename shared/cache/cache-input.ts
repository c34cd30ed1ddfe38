/**
 * Checks of the inputs every CacheStore takes, shared by the Redis and in-memory stores so
 * that both refuse the same things with the same ValidationError (and change nothing).
 */
import { ValidationError } from '../errors';
import { assertKeyringName, KEYRING_NAME_MAX } from '../vocabulary/keyring-name';

/** Hard limits of cache inputs. */
export const CACHE_LIMITS = Object.freeze({
  /** Longest application key, in UTF-8 bytes. */
  keyMaxBytes: 4096,
  /** Longest keyring name, in characters (the one keyring-name rule's limit). */
  keyringMaxLength: KEYRING_NAME_MAX,
  /** Longest TTL: 30 days. */
  ttlMaxSeconds: 30 * 24 * 3600,
  /** Highest version number (u32, as in the envelope header). */
  versionMax: 0xffff_ffff,
});

const SURROGATE = /[\ud800-\udfff]/;

/**
 * Throws ValidationError unless `key` is a non-empty, well-formed string within the limits.
 *
 * @example
 * assertCacheKey('user:42:profile');
 */
export function assertCacheKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) throw new ValidationError('cache key must be a non-empty string');
  if (Buffer.byteLength(key, 'utf8') > CACHE_LIMITS.keyMaxBytes) {
    throw new ValidationError(`cache key must be at most ${CACHE_LIMITS.keyMaxBytes} bytes`);
  }
  // A lone surrogate does not survive a UTF-8 round trip: two keys would collide.
  if (SURROGATE.test(key) && Buffer.from(key, 'utf8').toString('utf8') !== key) {
    throw new ValidationError('cache key is not well-formed Unicode');
  }
}

/**
 * Throws ValidationError unless `keyring` is a keyring name (the one rule of
 * shared/vocabulary/keyring-name.ts): a cache entry is encrypted under it, so a name no catalog
 * can hold is refused before anything is stored.
 */
export function assertKeyring(keyring: unknown): asserts keyring is string {
  assertKeyringName(keyring);
}

/** Throws ValidationError unless `version` is a version number (1 .. 2^32-1). */
export function assertVersion(version: unknown): asserts version is number {
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || version > CACHE_LIMITS.versionMax) {
    throw new ValidationError('version must be an integer between 1 and 4294967295');
  }
}

/** Throws ValidationError unless `ttlSeconds` is a whole number of seconds within the limits. */
export function assertTtl(ttlSeconds: unknown): asserts ttlSeconds is number {
  if (typeof ttlSeconds !== 'number' || !Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > CACHE_LIMITS.ttlMaxSeconds) {
    throw new ValidationError(`ttlSeconds must be an integer between 1 and ${CACHE_LIMITS.ttlMaxSeconds}`);
  }
}

/** Throws ValidationError unless `value` is a non-empty Buffer. */
export function assertValue(value: unknown): asserts value is Buffer {
  if (!Buffer.isBuffer(value) || value.length === 0) throw new ValidationError('cache value must be a non-empty Buffer');
}
