import { createCacheInvalidateHandler } from '../../../functions/cache-invalidate/handler';
import { createGracePeriodHandler } from '../../../functions/grace-period/handler';
import { createHarness, lambdaContext, putRecords, statesOf, type Harness } from './support/harness';

const POLICY = { rotateEverySeconds: 3600, propagationSeconds: 60, graceSeconds: 120, retentionSeconds: 300 };

describe('cache-invalidate function (moto + redis-server)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  async function deprecateV1(): Promise<void> {
    // A record keeps v1 referenced, so it stops at deprecated instead of moving on to disabled.
    await putRecords(h, 1);
    const grace = createGracePeriodHandler(h.deps);
    for (const step of [3601, 61, 121]) {
      h.advance(step);
      await grace({ keyring: h.keyring }, lambdaContext());
    }
  }

  describe('scheduled', () => {
    it('drops the entries of versions past their grace period and keeps the active ones', async () => {
      // Prepare
      h = await createHarness({ cache: true, policy: POLICY });
      const cache = h.services.cache!;
      await cache.set('a', Buffer.from('e1'), 600, h.keyring, 1);
      await cache.set('b', Buffer.from('e2'), 600, h.keyring, 1);
      await deprecateV1();
      await cache.set('c', Buffer.from('e3'), 600, h.keyring, 2);
      // Act
      const out = await createCacheInvalidateHandler(h.deps)({ keyring: h.keyring }, lambdaContext());
      // Assess
      expect(await statesOf(h)).toEqual([[1, 'deprecated'], [2, 'active']]);
      expect(out).toEqual({ ok: true, results: [{ keyring: h.keyring, status: 'done', dropped: { '1': 2 } }] });
      expect([...(await cache.countByVersion(h.keyring))]).toEqual([[2, 1]]);
      expect(await cache.get('c')).toBeDefined();
      expect(h.metrics.values('CacheEntriesInvalidated', { keyring: h.keyring, version: 1 })).toEqual([2]);
    });
  });

  describe('revoked purge', () => {
    it('purges one version at once', async () => {
      // Prepare
      h = await createHarness({ cache: true });
      const cache = h.services.cache!;
      await cache.set('x', Buffer.from('e'), 600, h.keyring, 1);
      // Act
      const out = await createCacheInvalidateHandler(h.deps)({ keyring: h.keyring, version: 1, reason: 'revoked' }, lambdaContext());
      // Assess
      expect(out).toEqual({ ok: true, results: [{ keyring: h.keyring, status: 'done', dropped: { '1': 1 } }] });
      expect(await cache.get('x')).toBeUndefined();
    });

    it('refuses an unknown version and changes nothing', async () => {
      // Prepare
      h = await createHarness({ cache: true });
      await h.services.cache!.set('y', Buffer.from('e'), 600, h.keyring, 1);
      const before = await h.snapshot();
      // Act
      const out = await createCacheInvalidateHandler(h.deps)({ keyring: h.keyring, version: 9, reason: 'revoked' }, lambdaContext());
      // Assess
      expect(out).toMatchObject({ ok: false, error: { code: 'UNKNOWN_VERSION' } });
      expect(await h.snapshot()).toBe(before);
    });
  });
});
