import type { Cluster, Redis } from 'ioredis';
import { createRedisClient } from '../../../shared/adapters/redis/create-redis-client';
import { RedisCacheStore } from '../../../shared/adapters/redis/redis-cache-store';
import { EncryptedCache } from '../../../shared/cache';
import { EnvelopeClient } from '../../../shared/envelope';
import { BackendError } from '../../../shared/errors';
import { RecordingMetrics, TestKeyProvider } from '../../unit/cache/support/test-key-provider';
import { OwnRedis } from './support/own-redis';

const SECRET = Buffer.from('outage-test-secret');

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

async function commandCalls(admin: Redis): Promise<Map<string, number>> {
  const info = await admin.info('commandstats');
  const calls = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1]!, Number(m[2]));
  return calls;
}

describe('RedisCacheStore on a server of its own', () => {
  let server: OwnRedis;
  let client: Redis | Cluster;
  let store: RedisCacheStore;
  let cache: EncryptedCache;
  let metrics: RecordingMetrics;

  beforeAll(async () => {
    server = await OwnRedis.start();
    client = await createRedisClient({ url: server.url, maxReconnectDelayMs: 200 });
    await until(async () => client.status === 'ready', 'ready');
    // Well under the 1 s server pause of the slowness tests, with headroom for a loaded machine.
    store = new RedisCacheStore(client, { commandTimeoutMs: 400 });
    const keys = new TestKeyProvider().addKeyring('pay');
    metrics = new RecordingMetrics();
    cache = new EncryptedCache({ store, envelopes: new EnvelopeClient(keys), versions: keys, metrics });
  });

  afterAll(async () => {
    client.disconnect();
    await server.destroy();
  });

  describe('invalidateVersion', () => {
    it('issues commands in proportion to the version, not to the keyspace', async () => {
      // Prepare: 5,000 entries, of which 20 belong to version 2. This test counts commands, not
      // time: a store with a roomy command timeout (the suite's short one is for the outage tests
      // and fails a write on a loaded machine).
      const roomy = new RedisCacheStore(client, { commandTimeoutMs: 5000 });
      const admin = (await createRedisClient({ url: server.url })) as Redis;
      await until(async () => admin.status === 'ready', 'admin ready');
      const pipeline = client.pipeline();
      for (let i = 0; i < 5000; i++) pipeline.set(`noise:${i}`, 'x');
      await pipeline.exec();
      for (let i = 0; i < 20; i++) await roomy.set(`v2:${i}`, Buffer.from('e'), 60, 'pay', 2);
      for (let i = 0; i < 100; i++) await roomy.set(`v1:${i}`, Buffer.from('e'), 60, 'pay', 1);
      const before = await commandCalls(admin);
      // Act
      const deleted = await roomy.invalidateVersion('pay', 2);
      const after = await commandCalls(admin);
      // Assess
      const issued = [...after].reduce((sum, [cmd, calls]) => sum + (cmd === 'info' ? 0 : calls - (before.get(cmd) ?? 0)), 0);
      expect(deleted).toBe(20);
      expect(after.get('scan') ?? 0).toBe(before.get('scan') ?? 0);
      expect(after.get('keys') ?? 0).toBe(before.get('keys') ?? 0);
      // 16 buckets: one ZRANGE each, one script per non-empty bucket (its calls inside included).
      expect(issued).toBeLessThan(16 + 16 + 20 * 3 + 16 * 2);
      expect((await roomy.countByVersion('pay')).get(1)).toBe(100);
      admin.disconnect();
    });
  });

  describe('outage', () => {
    it('degrades reads and writes to counted misses and skips, throws on invalidation, and recovers after a restart', async () => {
      // Prepare
      expect(await cache.set('k', 'pay', SECRET)).toBe(true);
      await server.stop();
      // Act
      const read = await cache.get('k');
      const written = await cache.set('k2', 'pay', SECRET);
      const invalidation = cache.invalidateVersion('pay', 1);
      const deletion = cache.delete('k');
      const rawGet = store.get('k');
      // Assess
      expect(read).toBeUndefined();
      expect(written).toBe(false);
      await expect(invalidation).rejects.toBeInstanceOf(BackendError);
      await expect(deletion).rejects.toMatchObject({ code: 'BACKEND', retryable: true });
      await expect(rawGet).rejects.toBeInstanceOf(BackendError);
      expect(metrics.count('cache.degraded', 'get')).toBeGreaterThanOrEqual(1);
      expect(metrics.count('cache.degraded', 'set')).toBeGreaterThanOrEqual(1);

      // Act: restart on the same port; the client reconnects by itself.
      await server.start();
      await until(async () => cache.set('k3', 'pay', SECRET), 'reconnection');
      const afterRestart = await cache.get('k3');
      const lostInRestart = await cache.get('k');
      // Assess: scripts were flushed by the restart and reloaded; the unpersisted entry is gone.
      expect(afterRestart?.equals(SECRET)).toBe(true);
      expect(lostInRestart).toBeUndefined();
      expect(await cache.invalidateVersion('pay', 1)).toBe(1);
    });
  });

  describe('slowness', () => {
    it('turns a read slower than the command timeout into a counted miss', async () => {
      // Prepare
      await until(async () => cache.set('slow', 'pay', SECRET), 'ready');
      const admin = (await createRedisClient({ url: server.url })) as Redis;
      await until(async () => admin.status === 'ready', 'admin ready');
      const degradedBefore = metrics.count('cache.degraded', 'get');
      await admin.call('CLIENT', 'PAUSE', '1000', 'ALL');
      // Act
      const read = await cache.get('slow');
      // Assess
      expect(read).toBeUndefined();
      expect(metrics.count('cache.degraded', 'get')).toBe(degradedBefore + 1);
      await until(async () => (await cache.get('slow')) !== undefined, 'unpause');
      admin.disconnect();
    });

    it('skips a write slower than the command timeout, counted, and writes again once the server answers', async () => {
      // Prepare
      await until(async () => cache.set('w', 'pay', SECRET), 'ready');
      const admin = (await createRedisClient({ url: server.url })) as Redis;
      await until(async () => admin.status === 'ready', 'admin ready');
      const degradedBefore = metrics.count('cache.degraded', 'set');
      await admin.call('CLIENT', 'PAUSE', '1000', 'ALL');
      // Act
      const written = await cache.set('w', 'pay', Buffer.from('during pause'));
      // Assess
      expect(written).toBe(false);
      expect(metrics.count('cache.degraded', 'set')).toBe(degradedBefore + 1);
      await until(async () => cache.set('w', 'pay', Buffer.from('after pause')), 'unpause');
      expect((await cache.get('w'))?.toString()).toBe('after pause');
      admin.disconnect();
    });
  });
});
