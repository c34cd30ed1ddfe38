import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { WRITE_BATCH_BYTES } from '../../../shared/adapters/redis/cache-scripts';
import { KeyLayout } from '../../../shared/adapters/redis/key-layout';
import { RedisCacheStore } from '../../../shared/adapters/redis/redis-cache-store';
import { BackendError } from '../../../shared/errors';
import { OwnRedis } from './support/own-redis';

// A server of this file's own: the assertions count the script calls it receives.
let server: OwnRedis;
let redis: Redis;
let n = 0;

function fresh(writeBatchSize?: number) {
  const prefix = `w${++n}:`;
  const store = new RedisCacheStore(redis, { keyPrefix: prefix, buckets: 4, commandTimeoutMs: 2000, ...(writeBatchSize ? { writeBatchSize } : {}) });
  return { store, layout: new KeyLayout(prefix, 4) };
}

async function scriptCalls(): Promise<number> {
  const info = await redis.info('commandstats');
  let calls = 0;
  for (const m of info.matchAll(/^cmdstat_(evalsha|eval):calls=(\d+)/gm)) calls += Number(m[2]);
  return calls;
}

async function indexSize(layout: KeyLayout, keyring: string, version: number): Promise<number> {
  let total = 0;
  for (let b = 0; b < layout.buckets; b++) total += await redis.zcard(layout.indexKey(b, keyring, version));
  return total;
}

beforeAll(async () => {
  server = await OwnRedis.start();
  redis = new Redis(server.url);
});

afterAll(async () => {
  redis.disconnect();
  await server.destroy();
});

describe('RedisCacheStore writes', () => {
  describe('set', () => {
    it('sends writes issued together in as few script calls as the batch size allows, each indexed with its value', async () => {
      // Prepare
      const { store } = fresh(16);
      const writes = Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: randomBytes(40), version: (i % 3) + 1 }));
      await store.set('warm-up', Buffer.from('v'), 60, 'other', 1);
      const before = await scriptCalls();
      // Act
      await Promise.all(writes.map((w) => store.set(w.key, w.value, 60, 'pay', w.version)));
      const calls = (await scriptCalls()) - before;
      // Assess
      expect(calls).toBe(Math.ceil(writes.length / 16));
      for (const w of writes) expect((await store.get(w.key))?.equals(w.value)).toBe(true);
      const expected = new Map<number, number>();
      for (const w of writes) expected.set(w.version, (expected.get(w.version) ?? 0) + 1);
      expect(await store.countByVersion('pay')).toEqual(new Map([...expected].sort((a, b) => a[0] - b[0])));
    });

    it('sends a value too big to share a call on its own', async () => {
      // Prepare
      const { store } = fresh();
      const big = Array.from({ length: 3 }, () => randomBytes(Math.floor(WRITE_BATCH_BYTES / 2) + 1));
      await store.set('warm-up', Buffer.from('v'), 60, 'other', 1);
      const before = await scriptCalls();
      // Act
      await Promise.all(big.map((v, i) => store.set(`big${i}`, v, 60, 'pay', 1)));
      const calls = (await scriptCalls()) - before;
      // Assess
      expect(calls).toBe(big.length);
      for (const [i, v] of big.entries()) expect((await store.get(`big${i}`))?.equals(v)).toBe(true);
    });

    it('applies writes of one key issued together in call order, leaving it in exactly one index', async () => {
      // Prepare
      const { store, layout } = fresh();
      // Act
      await Promise.all([1, 2, 3].map((v) => store.set('k', Buffer.from(`v${v}`), 60, 'pay', v)));
      // Assess
      expect((await store.get('k'))?.toString()).toBe('v3');
      expect(await indexSize(layout, 'pay', 1)).toBe(0);
      expect(await indexSize(layout, 'pay', 2)).toBe(0);
      expect(await store.countByVersion('pay')).toEqual(new Map([[3, 1]]));
    });

    it('keeps call order with the reads, deletes and invalidations issued right after a write, scripts not yet cached included', async () => {
      // Prepare: a server that has never seen the scripts.
      await redis.script('FLUSH');
      const { store } = fresh();
      // Act: nothing is awaited in between.
      const write = store.set('k', Buffer.from('v'), 60, 'pay', 1);
      const read = store.get('k');
      const invalidation = store.invalidateVersion('pay', 1);
      const rewrite = store.set('k2', Buffer.from('w'), 60, 'pay', 1);
      const deletion = store.delete('k2');
      const afterAll = store.get('k2');
      // Assess
      await write;
      await rewrite;
      expect((await read)?.toString()).toBe('v');
      expect(await invalidation).toBe(1);
      await deletion;
      expect(await afterAll).toBeUndefined();
      expect(await store.countByVersion('pay')).toEqual(new Map());
    });

    it('fails with BackendError every write of a call the server refuses, and the next calls still work', async () => {
      // Prepare: garbage of another type where one bucket's index lives.
      const { store, layout } = fresh();
      const bucket = layout.bucketOf('a0');
      const keys = Array.from({ length: 40 }, (_, i) => `a${i}`).filter((k) => layout.bucketOf(k) === bucket);
      await redis.set(layout.indexKey(bucket, 'pay', 1), 'not a sorted set');
      // Act
      const outcomes = await Promise.allSettled(keys.map((k) => store.set(k, Buffer.from('v'), 60, 'pay', 1)));
      await redis.del(layout.indexKey(bucket, 'pay', 1));
      await store.set(keys[0]!, Buffer.from('again'), 60, 'pay', 1);
      // Assess
      expect(keys.length).toBeGreaterThan(1);
      for (const o of outcomes) {
        expect(o.status).toBe('rejected');
        expect((o as PromiseRejectedResult).reason).toBeInstanceOf(BackendError);
      }
      expect((await store.get(keys[0]!))?.toString()).toBe('again');
      // The index is written before the value: no value of the refused call was left unindexed.
      for (const k of keys.slice(1)) expect(await store.get(k)).toBeUndefined();
      expect(await store.countByVersion('pay')).toEqual(new Map([[1, 1]]));
    });
  });
});
