/**
 * EncryptedCache: a read-through-friendly cache whose values are envelopes. Plaintext is
 * encrypted before it reaches the store and decrypted after it leaves it; every read checks the
 * entry's version against the catalog, so an entry of a revoked or retired version is never
 * served (even one a writer with a stale catalog put back after a purge) and is deleted on sight.
 *
 * The cache degrades rather than fails: when the store is down or slow a read is a miss and a
 * write is skipped (counted as `cache.degraded`), and the application reads its source of truth.
 * Deleting and invalidating are different: losing them would let stale or revoked data be
 * served later, so they throw a retryable BackendError instead.
 */
import { createHash } from 'node:crypto';
import type { VersionState } from '../catalog/model';
import type { CallerContext } from '../envelope/api';
import {
  BackendError,
  ContextMismatchError,
  ContextRequiredError,
  DecryptError,
  RevokedVersionError,
  UnknownKeyringError,
  UnknownVersionError,
  ValidationError,
  VersionUnavailableError,
  isRekeyError,
} from '../errors';
import type { CacheStore } from '../ports/cache-store';
import { assertCacheKey, assertKeyring, assertTtl, assertVersion } from './cache-input';
import type { CacheEnvelopes, CacheGetOptions, CacheMetricName, CacheMetrics, CacheSetOptions, VersionStates } from './cache-types';

/** Context entry that binds an envelope to its cache key (a digest of it, so any key length fits). */
export const CACHE_KEY_CONTEXT = 'rekey:cache-key';

/** Versions whose entries may be served; every other state (and an unknown version) is refused. */
const SERVABLE: ReadonlySet<VersionState> = new Set<VersionState>(['pending', 'active', 'rotating', 'deprecated']);

/** Options of {@link EncryptedCache}. */
export interface EncryptedCacheOptions {
  readonly store: CacheStore;
  /** An `EnvelopeClient` (or anything with its encrypt / decrypt / inspect). */
  readonly envelopes: CacheEnvelopes;
  /** Usually the `CatalogKeyProvider` that also serves the envelope client's keys. */
  readonly versions: VersionStates;
  readonly metrics?: CacheMetrics;
  /**
   * TTL of entries written without one.
   * @default 300
   */
  readonly defaultTtlSeconds?: number;
}

const NO_METRICS: CacheMetrics = { increment: () => undefined };

/**
 * Encrypted cache over any CacheStore.
 *
 * @example
 * const cache = new EncryptedCache({ store, envelopes: envelopeClient, versions: keyProvider, metrics });
 * await cache.set('user:42', 'profiles', Buffer.from(json), { ttlSeconds: 60, context: { tenant: 'acme' } });
 * const hit = await cache.get('user:42', { context: { tenant: 'acme' } }); // Buffer | undefined
 */
export class EncryptedCache {
  private readonly store: CacheStore;
  private readonly envelopes: CacheEnvelopes;
  private readonly versions: VersionStates;
  private readonly metrics: CacheMetrics;
  private readonly defaultTtlSeconds: number;

  public constructor(options: EncryptedCacheOptions) {
    this.store = options.store;
    this.envelopes = options.envelopes;
    this.versions = options.versions;
    this.metrics = options.metrics ?? NO_METRICS;
    this.defaultTtlSeconds = options.defaultTtlSeconds ?? 300;
    assertTtl(this.defaultTtlSeconds);
  }

  /**
   * Encrypts `plaintext` under the active version of `keyring`, bound to `key` and `context`,
   * and stores it. Returns false when the store was unavailable and the write was skipped.
   * Encryption errors (unknown keyring, limits, key unavailable) are thrown.
   */
  public async set(key: string, keyring: string, plaintext: Buffer, options: CacheSetOptions = {}): Promise<boolean> {
    assertCacheKey(key);
    assertKeyring(keyring);
    if (!Buffer.isBuffer(plaintext)) throw new ValidationError('plaintext must be a Buffer');
    const ttl = options.ttlSeconds ?? this.defaultTtlSeconds;
    assertTtl(ttl);
    const context = bindKey(key, options.context);
    const envelope = await this.envelopes.encrypt(keyring, plaintext, { context });
    const { version } = this.envelopes.inspect(envelope);
    try {
      await this.store.set(key, envelope, ttl, keyring, version);
      return true;
    } catch (err) {
      if (err instanceof BackendError) return this.degraded('set', false);
      throw err;
    }
  }

  /**
   * Returns the plaintext cached under `key`, or undefined on a miss. Never throws for what is
   * in the store: a malformed or tampered value, or one of a version that may no longer be
   * read, is deleted and reported as a miss; an unavailable store is a miss too.
   */
  public async get(key: string, options: CacheGetOptions = {}): Promise<Buffer | undefined> {
    assertCacheKey(key);
    const context = bindKey(key, options.context);
    let raw: Buffer | undefined;
    try {
      raw = await this.store.get(key);
    } catch (err) {
      if (err instanceof BackendError) return this.degraded('get', undefined);
      throw err;
    }
    if (raw === undefined) return this.count('cache.miss', {}, undefined);

    let keyring: string;
    let version: number;
    try {
      ({ keyring, version } = this.envelopes.inspect(raw));
    } catch (err) {
      if (err instanceof DecryptError) return this.discard('cache.malformed', { stage: 'inspect' }, key);
      throw err;
    }

    let state: VersionState | undefined;
    try {
      state = await this.versions.versionState(keyring, version);
    } catch (err) {
      // Without the catalog the entry can be neither served nor condemned: a miss, kept.
      if (isRekeyError(err)) return this.degraded('catalog', undefined);
      throw err;
    }
    if (state === undefined || !SERVABLE.has(state)) {
      return this.discard('cache.refused', { state: state ?? 'unknown' }, key, keyring, version);
    }

    try {
      const { plaintext } = await this.envelopes.decrypt(raw, { context });
      return this.count('cache.hit', {}, plaintext);
    } catch (err) {
      if (err instanceof DecryptError || err instanceof ContextMismatchError || err instanceof ContextRequiredError) {
        return this.discard('cache.malformed', { stage: 'decrypt' }, key, keyring, version);
      }
      if (
        err instanceof RevokedVersionError ||
        err instanceof VersionUnavailableError ||
        err instanceof UnknownVersionError ||
        err instanceof UnknownKeyringError
      ) {
        return this.discard('cache.refused', { state: err.code }, key, keyring, version);
      }
      // The key is unavailable or throttled right now: a miss, the entry is kept.
      if (isRekeyError(err)) return this.degraded('decrypt', undefined);
      throw err;
    }
  }

  /** Deletes `key`. Throws a retryable BackendError when the store is unavailable. */
  public async delete(key: string): Promise<void> {
    assertCacheKey(key);
    await this.store.delete(key);
  }

  /**
   * Deletes every entry of (keyring, version); returns how many. Throws a retryable
   * BackendError when the store is unavailable: a revocation must retry, never skip this.
   */
  public async invalidateVersion(keyring: string, version: number): Promise<number> {
    assertKeyring(keyring);
    assertVersion(version);
    return this.store.invalidateVersion(keyring, version);
  }

  /** Live entries per version of `keyring` (for `rekey cache stats` and reference counting). */
  public async countByVersion(keyring: string): Promise<Map<number, number>> {
    assertKeyring(keyring);
    return this.store.countByVersion(keyring);
  }

  private async discard(
    name: CacheMetricName,
    dimensions: Record<string, string>,
    key: string,
    keyring?: string,
    version?: number,
  ): Promise<undefined> {
    this.metrics.increment(name, dimensions);
    try {
      await this.store.delete(key, keyring, version);
    } catch (err) {
      // The entry stays; the next read refuses it again.
      if (err instanceof BackendError) return this.degraded('delete', undefined);
      throw err;
    }
    return undefined;
  }

  private degraded<T>(op: string, result: T): T {
    this.metrics.increment('cache.degraded', { op });
    return result;
  }

  private count<T>(name: CacheMetricName, dimensions: Record<string, string>, result: T): T {
    this.metrics.increment(name, dimensions);
    return result;
  }
}

function bindKey(key: string, context: CallerContext | undefined): CallerContext {
  if (context !== undefined && (context === null || typeof context !== 'object' || Array.isArray(context))) {
    throw new ValidationError('context must be an object of strings');
  }
  if (context !== undefined && Object.prototype.hasOwnProperty.call(context, CACHE_KEY_CONTEXT)) {
    throw new ValidationError(`context key '${CACHE_KEY_CONTEXT}' is reserved by the cache`);
  }
  const digest = createHash('sha256').update(key, 'utf8').digest('base64url');
  return { ...context, [CACHE_KEY_CONTEXT]: digest };
}
