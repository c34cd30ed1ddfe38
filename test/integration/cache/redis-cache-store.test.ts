import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { INDEX_TTL_SLACK_MS } from '../../../shared/adapters/redis/cache-scripts';
import { KeyLayout } from '../../../shared/adapters/redis/key-layout';
import { RedisCacheStore } from '../../../shared/adapters/redis/redis-cache-store';
import { EncryptedCache } from '../../../shared/cache';
import { EnvelopeClient } from '../../../shared/envelope';
import { ValidationError } from '../../../shared/errors';
import { RecordingMetrics, TestKeyProvider } from '../../unit/cache/support/test-key-provider';

// One prefix per test file (and per test below): the server is shared with other test files.
const FILE_PREFIX = `it-cache-${process.pid}-${randomBytes(3).toString('hex')}`;
const BUCKETS = 4;
let redis: Redis;
let n = 0;

function fresh(batchSize?: number) {
  const prefix = `${FILE_PREFIX}-${++n}:`;
  const store = new RedisCacheStore(redis, { keyPrefix: prefix, buckets: BUCKETS, commandTimeoutMs: 2000, ...(batchSize ? { batchSize } : {}) });
  return { prefix, store, layout: new KeyLayout(prefix, BUCKETS) };
}

async function ownKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

async function indexSize(layout: KeyLayout, keyring: string, version: number): Promise<number> {
  let total = 0;
  for (let b = 0; b < BUCKETS; b++) total += await redis.zcard(layout.indexKey(b, keyring, version));
  return total;
}

async function expiresAt(key: string): Promise<number> {
  return Number(await redis.call('PEXPIRETIME', key));
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

beforeAll(() => {
  redis = new Redis(process.env.REKEY_TEST_REDIS_URL!, { enableOfflineQueue: true });
});

afterAll(async () => {
  const keys = await ownKeys(`${FILE_PREFIX}-`);
  if (keys.length > 0) await redis.unlink(...keys);
  await redis.quit();
});

describe('RedisCacheStore', () => {
  describe('get / set', () => {
    it('round-trips binary values, keys with braces and unicode included', async () => {
      // Prepare
      const { store } = fresh();
      const value = randomBytes(300);
      // Act
      await store.set('user:{42}:é', value, 60, 'pay', 3);
      const got = await store.get('user:{42}:é');
      // Assess
      expect(got?.equals(value)).toBe(true);
      expect(await store.get('user:{43}:é')).toBeUndefined();
    });

    it('misses once the TTL has passed (1 s TTL, polled)', async () => {
      // Prepare
      const { store } = fresh();
      await store.set('k', Buffer.from('v'), 1, 'pay', 1);
      const before = await store.get('k');
      // Act
      await until(async () => (await store.get('k')) === undefined, 'expiry');
      // Assess
      expect(before?.toString()).toBe('v');
      expect(await store.countByVersion('pay')).toEqual(new Map());
    });

    it('refuses bad input with ValidationError and writes nothing', async () => {
      // Prepare
      const { store, prefix } = fresh();
      // Act
      const attempts = [
        store.set('k', Buffer.from('v'), 0, 'pay', 1),
        store.set('k', Buffer.from('v'), 60, '', 1),
        store.set('k', Buffer.from('v'), 60, 'pay', -1),
        store.set('', Buffer.from('v'), 60, 'pay', 1),
        store.set('k', 'v' as unknown as Buffer, 60, 'pay', 1),
      ];
      // Assess
      for (const a of attempts) await expect(a).rejects.toBeInstanceOf(ValidationError);
      expect(await ownKeys(prefix)).toEqual([]);
    });

    it('drops a value of another Redis type found at an entry key', async () => {
      // Prepare
      const { store, layout } = fresh();
      await redis.hset(layout.entryKey('k'), 'field', 'junk');
      // Act
      const got = await store.get('k');
      // Assess
      expect(got).toBeUndefined();
      expect(await redis.exists(layout.entryKey('k'))).toBe(0);
    });
  });

  describe('invalidateVersion', () => {
    it('deletes every entry of one version, in batches, and leaves the other versions and keyrings intact', async () => {
      // Prepare
      const { store } = fresh(7);
      for (let i = 0; i < 60; i++) await store.set(`k${i}`, Buffer.from(`v${i}`), 60, 'pay', (i % 3) + 1);
      await store.set('x', Buffer.from('x'), 60, 'other', 2);
      // Act
      const deleted = await store.invalidateVersion('pay', 2);
      // Assess
      expect(deleted).toBe(20);
      expect(await store.countByVersion('pay')).toEqual(new Map([[1, 20], [3, 20]]));
      expect(await store.countByVersion('other')).toEqual(new Map([[2, 1]]));
      expect(await store.get('k1')).toBeUndefined();
      expect((await store.get('k0'))?.toString()).toBe('v0');
      expect((await store.get('k2'))?.toString()).toBe('v2');
    });

    it('keeps an entry that was overwritten under another version', async () => {
      // Prepare
      const { store, layout } = fresh();
      await store.set('k', Buffer.from('old'), 60, 'pay', 1);
      await store.set('k', Buffer.from('new'), 60, 'pay', 2);
      // Act
      const deleted = await store.invalidateVersion('pay', 1);
      // Assess
      expect(deleted).toBe(0);
      expect((await store.get('k'))?.toString()).toBe('new');
      expect(await indexSize(layout, 'pay', 1)).toBe(0);
      expect(await store.countByVersion('pay')).toEqual(new Map([[2, 1]]));
    });

    it('returns 0 for a version with no entries', async () => {
      // Prepare
      const { store } = fresh();
      await store.set('k', Buffer.from('v'), 60, 'pay', 1);
      // Act
      const deleted = await store.invalidateVersion('pay', 9);
      // Assess
      expect(deleted).toBe(0);
      expect((await store.get('k'))?.toString()).toBe('v');
    });
  });

  describe('index maintenance', () => {
    it('does not let expired entries accumulate in the index', async () => {
      // Prepare
      const { store, layout } = fresh();
      // Written together (one pipelined batch) with a 2 s TTL: one await per write could take
      // longer than the TTL on a loaded machine, and a write prunes its bucket's expired members,
      // so the peak would depend on the machine's speed.
      await Promise.all(Array.from({ length: 300 }, (_, i) => store.set(`short${i}`, Buffer.from('v'), 2, 'pay', 1)));
      const peak = await indexSize(layout, 'pay', 1);
      await until(async () => (await store.get('short299')) === undefined && (await store.get('short0')) === undefined, 'expiry');
      // Act: one write per bucket prunes that bucket's expired members.
      for (let i = 0; i < 40; i++) await store.set(`long${i}`, Buffer.from('v'), 60, 'pay', 1);
      // Assess
      expect(peak).toBe(300);
      expect(await indexSize(layout, 'pay', 1)).toBe(40);
    });

    it('gives every index key a TTL no shorter than its longest entry, and at most one slack period longer', async () => {
      // Prepare
      const { store, layout } = fresh();
      await store.set('a', Buffer.from('v'), 600, 'pay', 1);
      const b = layout.bucketOf('a');
      const a2 = Array.from({ length: 40 }, (_, i) => `a2-${i}`).find((k) => layout.bucketOf(k) === b)!;
      // Act
      await store.set(a2, Buffer.from('v'), 5, 'pay', 1);
      // Assess
      const index = await expiresAt(layout.indexKey(b, 'pay', 1));
      const longest = await expiresAt(layout.entryKey('a'));
      expect(index).toBeGreaterThanOrEqual(longest);
      expect(index).toBeLessThanOrEqual(longest + INDEX_TTL_SLACK_MS);
      expect(await expiresAt(layout.versionsKey(b, 'pay'))).toBeGreaterThanOrEqual(index);
    });

    it('keeps the version registry alive at least as long as every index it lists', async () => {
      // Prepare: two versions in one bucket, the longer-lived one written first.
      const { store, layout } = fresh();
      const b = layout.bucketOf('x');
      const y = Array.from({ length: 40 }, (_, i) => `y${i}`).find((k) => layout.bucketOf(k) === b)!;
      await store.set('x', Buffer.from('v'), 900, 'pay', 1);
      // Act
      await store.set(y, Buffer.from('v'), 30, 'pay', 2);
      // Assess
      const registry = await expiresAt(layout.versionsKey(b, 'pay'));
      expect(registry).toBeGreaterThanOrEqual(await expiresAt(layout.indexKey(b, 'pay', 1)));
      expect(registry).toBeGreaterThanOrEqual(await expiresAt(layout.indexKey(b, 'pay', 2)));
      expect((await redis.smembers(layout.versionsKey(b, 'pay'))).sort()).toEqual(['1', '2']);
    });

    it('registers a version again once invalidation emptied its index', async () => {
      // Prepare
      const { store, layout } = fresh();
      await store.set('k', Buffer.from('v'), 60, 'pay', 1);
      await store.invalidateVersion('pay', 1);
      const registeredAfterPurge = await redis.smembers(layout.versionsKey(layout.bucketOf('k'), 'pay'));
      // Act
      await store.set('k', Buffer.from('w'), 60, 'pay', 1);
      // Assess
      expect(registeredAfterPurge).toEqual([]);
      expect(await store.countByVersion('pay')).toEqual(new Map([[1, 1]]));
    });

    it('prunes an index only when it grows: overwrites re-score their member, the next new member drops every expired one', async () => {
      // Prepare: 30 members of one bucket's index, all expired.
      const { store, layout } = fresh();
      const b = layout.bucketOf('seed');
      const keys = Array.from({ length: 400 }, (_, i) => `p${i}`).filter((k) => layout.bucketOf(k) === b).slice(0, 31);
      const [fresh1, ...old] = keys as [string, ...string[]];
      for (const k of old) await store.set(k, Buffer.from('v'), 1, 'pay', 1);
      await until(async () => (await Promise.all(old.map((k) => store.get(k)))).every((v) => v === undefined), 'expiry');
      // Act: rewriting 10 of them does not grow the index, so nothing is pruned yet.
      for (const k of old.slice(0, 10)) await store.set(k, Buffer.from('again'), 60, 'pay', 1);
      const afterOverwrites = await redis.zcard(layout.indexKey(b, 'pay', 1));
      const liveAfterOverwrites = await store.countByVersion('pay');
      await store.set(fresh1, Buffer.from('new'), 60, 'pay', 1);
      // Assess
      expect(old).toHaveLength(30);
      expect(afterOverwrites).toBe(30);
      expect(liveAfterOverwrites).toEqual(new Map([[1, 10]]));
      expect(await redis.zcard(layout.indexKey(b, 'pay', 1))).toBe(11);
      expect(await store.countByVersion('pay')).toEqual(new Map([[1, 11]]));
    });
  });

  describe('delete', () => {
    it('removes the entry and its index membership without being told the version', async () => {
      // Prepare
      const { store, layout } = fresh();
      await store.set('k', Buffer.from('v'), 60, 'pay', 4);
      // Act
      await store.delete('k');
      // Assess
      expect(await store.get('k')).toBeUndefined();
      expect(await indexSize(layout, 'pay', 4)).toBe(0);
    });
  });
});

describe('EncryptedCache on Redis', () => {
  const SECRET = Buffer.from('PLAINTEXT-MARKER-9f2c4e1a-very-secret');

  function cacheOn(store: RedisCacheStore, keys: TestKeyProvider) {
    const metrics = new RecordingMetrics();
    return { metrics, cache: new EncryptedCache({ store, envelopes: new EnvelopeClient(keys), versions: keys, metrics }) };
  }

  describe('set / get', () => {
    it('never writes the plaintext to Redis', async () => {
      // Prepare
      const { store, prefix } = fresh();
      const keys = new TestKeyProvider().addKeyring('pay');
      const { cache } = cacheOn(store, keys);
      // Act
      for (let i = 0; i < 20; i++) await cache.set(`user:${i}`, 'pay', SECRET, { context: { tenant: 't' } });
      const got = await cache.get('user:3', { context: { tenant: 't' } });
      // Assess
      expect(got?.equals(SECRET)).toBe(true);
      const raw: Buffer[] = [];
      for (const key of await ownKeys(prefix)) {
        const type = await redis.type(key);
        if (type === 'string') raw.push((await redis.getBuffer(key))!);
        if (type === 'zset') raw.push(...(await redis.zrangeBuffer(key, '0', '-1')));
        if (type === 'set') raw.push(...(await redis.smembersBuffer(key)));
      }
      expect(raw.length).toBeGreaterThanOrEqual(20);
      for (const r of raw) expect(r.includes(SECRET)).toBe(false);
    });
  });

  describe('get', () => {
    it('treats garbage and truncated envelopes written straight into Redis as misses and deletes them', async () => {
      // Prepare
      const { store, layout } = fresh();
      const keys = new TestKeyProvider().addKeyring('pay');
      const { cache, metrics } = cacheOn(store, keys);
      await cache.set('good', 'pay', SECRET);
      const stored = (await redis.getBuffer(layout.entryKey('good')))!;
      await redis.set(layout.entryKey('garbage'), 'not an envelope at all');
      await redis.set(layout.entryKey('truncated'), stored.subarray(0, stored.length - 10));
      await redis.set(layout.entryKey('empty-body'), stored.subarray(0, stored.indexOf(0x0a) + 1));
      // Act
      const results = [await cache.get('garbage'), await cache.get('truncated'), await cache.get('empty-body')];
      // Assess
      expect(results).toEqual([undefined, undefined, undefined]);
      for (const k of ['garbage', 'truncated', 'empty-body']) expect(await redis.exists(layout.entryKey(k))).toBe(0);
      expect(metrics.count('cache.malformed')).toBe(3);
      expect((await cache.get('good'))?.equals(SECRET)).toBe(true);
    });

    it('never serves an entry a stale writer put back after the purge of a revoked version, and deletes it on sight', async () => {
      // Prepare: the writer captured version 1 before it was revoked (its catalog is stale).
      const { store } = fresh();
      const keys = new TestKeyProvider().addKeyring('pay');
      const staleV1 = await keys.forEncrypt('pay');
      const stale = new EncryptedCache({
        store,
        envelopes: new EnvelopeClient({ forEncrypt: async () => staleV1, forDecrypt: (k, v, p) => keys.forDecrypt(k, v, p) }),
        versions: { versionState: async () => 'active' },
      });
      const { cache: reader, metrics } = cacheOn(store, keys);
      await reader.set('k', 'pay', SECRET);
      keys.rotate('pay');
      keys.setState('pay', 1, 'revoked');
      const purged = await reader.invalidateVersion('pay', 1);
      // Act
      const written = await stale.set('k', 'pay', SECRET);
      const countAfterStaleWrite = await reader.countByVersion('pay');
      const got = await reader.get('k');
      // Assess
      expect(purged).toBe(1);
      expect(written).toBe(true);
      expect(countAfterStaleWrite).toEqual(new Map([[1, 1]]));
      expect(got).toBeUndefined();
      expect(await store.get('k')).toBeUndefined();
      expect(await reader.countByVersion('pay')).toEqual(new Map());
      expect(metrics.events).toContainEqual({ name: 'cache.refused', dimensions: { state: 'revoked' } });
    });
  });
});
