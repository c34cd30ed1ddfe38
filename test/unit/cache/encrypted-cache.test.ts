import { MemoryCacheStore } from '../../../shared/adapters/local/memory-cache-store';
import { CACHE_KEY_CONTEXT, EncryptedCache } from '../../../shared/cache';
import { EnvelopeClient } from '../../../shared/envelope';
import { BackendError, KeyUnavailableError, ValidationError } from '../../../shared/errors';
import type { CacheStore } from '../../../shared/ports/cache-store';
import { RecordingMetrics, TestKeyProvider } from './support/test-key-provider';

const SECRET = Buffer.from('card=4111111111111111;cvv=123');

function setup(store: CacheStore = new MemoryCacheStore()) {
  const keys = new TestKeyProvider().addKeyring('pay').addKeyring('other');
  const metrics = new RecordingMetrics();
  const cache = new EncryptedCache({ store, envelopes: new EnvelopeClient(keys), versions: keys, metrics });
  return { keys, metrics, cache, store };
}

/** A CacheStore whose backend is gone: every call fails as the Redis store does then. */
class UnavailableStore implements CacheStore {
  private fail(): never {
    throw new BackendError('cache get failed: connection refused');
  }
  public async get(): Promise<Buffer | undefined> {
    return this.fail();
  }
  public async set(): Promise<void> {
    this.fail();
  }
  public async delete(): Promise<void> {
    this.fail();
  }
  public async invalidateVersion(): Promise<number> {
    return this.fail();
  }
  public async countByVersion(): Promise<Map<number, number>> {
    return this.fail();
  }
}

describe('EncryptedCache', () => {
  describe('set / get', () => {
    it('round-trips a value under its context', async () => {
      // Prepare
      const { cache, metrics } = setup();
      // Act
      const stored = await cache.set('user:1', 'pay', SECRET, { ttlSeconds: 60, context: { tenant: 'acme' } });
      const got = await cache.get('user:1', { context: { tenant: 'acme' } });
      // Assess
      expect(stored).toBe(true);
      expect(got?.equals(SECRET)).toBe(true);
      expect(metrics.count('cache.hit')).toBe(1);
    });

    it('stores an envelope, never the plaintext', async () => {
      // Prepare
      const { cache, store } = setup();
      // Act
      await cache.set('user:1', 'pay', SECRET);
      const raw = await store.get('user:1');
      // Assess
      expect(raw).toBeDefined();
      expect(raw!.includes(SECRET)).toBe(false);
      expect(raw!.length).toBeGreaterThan(SECRET.length);
    });

    it('indexes the entry under the version that encrypted it', async () => {
      // Prepare
      const { cache, keys } = setup();
      await cache.set('a', 'pay', SECRET);
      const v2 = keys.rotate('pay');
      // Act
      await cache.set('b', 'pay', SECRET);
      // Assess
      expect(await cache.countByVersion('pay')).toEqual(new Map([[1, 1], [v2, 1]]));
    });

    it('serves an entry of a rotating version', async () => {
      // Prepare
      const { cache, keys } = setup();
      await cache.set('a', 'pay', SECRET);
      keys.rotate('pay');
      // Act
      const got = await cache.get('a');
      // Assess
      expect(got?.equals(SECRET)).toBe(true);
    });

    it('refuses a context that uses the reserved cache-key entry', async () => {
      // Prepare
      const { cache } = setup();
      // Act
      const attempt = cache.set('a', 'pay', SECRET, { context: { [CACHE_KEY_CONTEXT]: 'x' } });
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      expect(await cache.countByVersion('pay')).toEqual(new Map());
    });
  });

  describe('get', () => {
    it('misses and deletes an entry replayed under another key', async () => {
      // Prepare
      const { cache, store, metrics } = setup();
      await cache.set('victim', 'pay', SECRET);
      const envelope = (await store.get('victim'))!;
      await store.set('attacker', envelope, 60, 'pay', 1);
      // Act
      const got = await cache.get('attacker');
      // Assess
      expect(got).toBeUndefined();
      expect(await store.get('attacker')).toBeUndefined();
      expect(metrics.count('cache.malformed')).toBe(1);
      expect((await cache.get('victim'))?.equals(SECRET)).toBe(true);
    });

    it('misses and deletes an entry read with another context', async () => {
      // Prepare
      const { cache, store } = setup();
      await cache.set('k', 'pay', SECRET, { context: { tenant: 'acme' } });
      // Act
      const got = await cache.get('k', { context: { tenant: 'evil' } });
      // Assess
      expect(got).toBeUndefined();
      expect(await store.get('k')).toBeUndefined();
    });

    it.each([
      ['revoked'],
      ['disabled'],
      ['destroyed'],
    ] as const)('never serves an entry of a %s version and deletes it on sight', async (state) => {
      // Prepare
      const { cache, keys, store, metrics } = setup();
      await cache.set('k', 'pay', SECRET);
      keys.rotate('pay');
      keys.setState('pay', 1, state);
      // Act
      const got = await cache.get('k');
      // Assess
      expect(got).toBeUndefined();
      expect(await store.get('k')).toBeUndefined();
      expect(metrics.events).toContainEqual({ name: 'cache.refused', dimensions: { state } });
      expect(await cache.countByVersion('pay')).toEqual(new Map());
    });

    it('deletes an entry whose version the catalog does not know', async () => {
      // Prepare
      const { cache, store } = setup();
      const foreign = new TestKeyProvider().addKeyring('ghost');
      const envelope = await new EnvelopeClient(foreign).encrypt('ghost', SECRET);
      await store.set('k', envelope, 60, 'ghost', 1);
      // Act
      const got = await cache.get('k');
      // Assess
      expect(got).toBeUndefined();
      expect(await store.get('k')).toBeUndefined();
    });

    it.each([
      ['garbage', (_env: Buffer) => Buffer.from('{"not":"an envelope"}')],
      ['a truncated envelope', (env: Buffer) => env.subarray(0, env.length - 7)],
      ['a header-only envelope', (env: Buffer) => env.subarray(0, 40)],
      ['a bit-flipped payload', (env: Buffer) => { const c = Buffer.from(env); c[c.length - 20]! ^= 1; return c; }],
    ])('treats %s as a miss and deletes it', async (_what, damage) => {
      // Prepare
      const { cache, store, metrics } = setup();
      await cache.set('k', 'pay', SECRET);
      await store.set('k', damage((await store.get('k'))!), 60, 'pay', 1);
      // Act
      const got = await cache.get('k');
      // Assess
      expect(got).toBeUndefined();
      expect(await store.get('k')).toBeUndefined();
      expect(metrics.count('cache.malformed')).toBe(1);
    });

    it('misses but keeps the entry when the key is unavailable for now', async () => {
      // Prepare
      const { cache, keys, store, metrics } = setup();
      await cache.set('k', 'pay', SECRET);
      jest.spyOn(keys, 'forDecrypt').mockRejectedValueOnce(new KeyUnavailableError('KMS key disabled'));
      // Act
      const got = await cache.get('k');
      // Assess
      expect(got).toBeUndefined();
      expect(await store.get('k')).toBeDefined();
      expect(metrics.count('cache.degraded', 'decrypt')).toBe(1);
    });

    it('misses but keeps the entry when the catalog cannot be read', async () => {
      // Prepare
      const { cache, keys, store, metrics } = setup();
      await cache.set('k', 'pay', SECRET);
      jest.spyOn(keys, 'versionState').mockRejectedValueOnce(new BackendError('catalog unreachable'));
      // Act
      const got = await cache.get('k');
      // Assess
      expect(got).toBeUndefined();
      expect(await store.get('k')).toBeDefined();
      expect(metrics.count('cache.degraded', 'catalog')).toBe(1);
    });

    it('counts a plain miss', async () => {
      // Prepare
      const { cache, metrics } = setup();
      // Act
      const got = await cache.get('absent');
      // Assess
      expect(got).toBeUndefined();
      expect(metrics.count('cache.miss')).toBe(1);
    });
  });

  describe('invalidateVersion', () => {
    it('drops one version and keeps the others', async () => {
      // Prepare
      const { cache, keys } = setup();
      await cache.set('a', 'pay', SECRET);
      keys.rotate('pay');
      await cache.set('b', 'pay', SECRET);
      await cache.set('c', 'other', SECRET);
      // Act
      const deleted = await cache.invalidateVersion('pay', 1);
      // Assess
      expect(deleted).toBe(1);
      expect(await cache.get('a')).toBeUndefined();
      expect((await cache.get('b'))?.equals(SECRET)).toBe(true);
      expect((await cache.get('c'))?.equals(SECRET)).toBe(true);
    });
  });

  describe('degradation', () => {
    it('turns reads into misses and skips writes when the store is unavailable, counting each', async () => {
      // Prepare
      const { cache, metrics } = setup(new UnavailableStore());
      // Act
      const written = await cache.set('k', 'pay', SECRET);
      const got = await cache.get('k');
      // Assess
      expect(written).toBe(false);
      expect(got).toBeUndefined();
      expect(metrics.count('cache.degraded', 'set')).toBe(1);
      expect(metrics.count('cache.degraded', 'get')).toBe(1);
    });

    it('throws a retryable BackendError from invalidateVersion and delete', async () => {
      // Prepare
      const { cache } = setup(new UnavailableStore());
      // Act
      const invalidation = cache.invalidateVersion('pay', 1);
      const deletion = cache.delete('k');
      // Assess
      await expect(invalidation).rejects.toMatchObject({ code: 'BACKEND', retryable: true });
      await expect(deletion).rejects.toBeInstanceOf(BackendError);
    });
  });
});
