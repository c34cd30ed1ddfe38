import { execFileSync } from 'node:child_process';
import { Cluster, Redis } from 'ioredis';
import { createRedisClient } from '../../../shared/adapters/redis/create-redis-client';
import { RedisCacheStore } from '../../../shared/adapters/redis/redis-cache-store';
import { EncryptedCache } from '../../../shared/cache';
import { EnvelopeClient } from '../../../shared/envelope';
import { ValidationError } from '../../../shared/errors';
import { TestKeyProvider } from '../../unit/cache/support/test-key-provider';
import { OwnRedis } from './support/own-redis';

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('createRedisClient', () => {
  describe('options', () => {
    it.each([
      [{}],
      [{ url: 'redis://127.0.0.1:1', endpoint: { host: 'h', port: 1, tls: false, clusterMode: false } }],
      [{ url: 'http://127.0.0.1:6379' }],
      [{ url: 'redis://127.0.0.1:6379/x' }],
      [{ endpoint: { host: '', port: 6379, tls: false, clusterMode: false } }],
      [{ url: 'redis://127.0.0.1:6379', commandTimeoutMs: 0 }],
    ])('refuses %j with ValidationError', async (options) => {
      // Prepare
      // Act
      const attempt = createRedisClient(options);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    });
  });

  describe('iam', () => {
    let server: OwnRedis;
    beforeAll(async () => {
      server = await OwnRedis.start();
    });
    afterAll(async () => {
      await server.destroy();
    });

    it('authenticates with the token, re-authenticates on refresh, and reconnects with the newest token', async () => {
      // Prepare: the ACL user accepts two tokens; the source hands out tok-A, then tok-B.
      const admin = new Redis(server.url);
      await admin.call('ACL', 'SETUSER', 'iam-user', 'on', '>tok-A', '>tok-B', '~*', '&*', '+@all');
      const issued = ['tok-A', 'tok-B'];
      let calls = 0;
      const tokens = { refreshIntervalMs: 50, getToken: async () => issued[Math.min(calls++, 1)]! };
      const client = (await createRedisClient({ url: server.url, iam: { user: 'iam-user', tokens } })) as Redis;
      await until(async () => client.status === 'ready', 'first connection');
      const firstUser = await client.call('ACL', 'WHOAMI');
      // Act: wait for a refresh, then retire tok-A and drop the connection.
      await until(async () => client.options.password === 'tok-B', 'token refresh');
      await admin.call('ACL', 'SETUSER', 'iam-user', '<tok-A');
      await admin.call('CLIENT', 'KILL', 'USER', 'iam-user');
      await until(async () => (await client.ping()) === 'PONG', 'reconnection with tok-B');
      // Assess
      expect(firstUser).toBe('iam-user');
      expect(await client.call('ACL', 'WHOAMI')).toBe('iam-user');
      expect(calls).toBeGreaterThanOrEqual(2);
      client.disconnect();
      admin.disconnect();
    });
  });

  describe('cluster', () => {
    const nodes: OwnRedis[] = [];
    let client: Redis | Cluster;

    beforeAll(async () => {
      for (let i = 0; i < 3; i++) nodes.push(await OwnRedis.start(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']));
      execFileSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' });
      const probe = new Redis(nodes[0]!.url);
      await until(async () => (await probe.cluster('INFO')).includes('cluster_state:ok'), 'cluster state ok');
      probe.disconnect();
      client = await createRedisClient({ url: nodes[0]!.url, cluster: true, commandTimeoutMs: 2000 });
      await until(async () => client.status === 'ready', 'cluster client ready');
    });

    afterAll(async () => {
      client.disconnect();
      for (const n of nodes) await n.destroy();
    });

    it('keeps every multi-key operation in one slot: set, get, count, invalidate and delete work across shards', async () => {
      // Prepare
      expect(client).toBeInstanceOf(Cluster);
      const store = new RedisCacheStore(client, { keyPrefix: 'ct:', buckets: 16, commandTimeoutMs: 2000, batchSize: 5 });
      const keys = new TestKeyProvider().addKeyring('pay');
      const cache = new EncryptedCache({ store, envelopes: new EnvelopeClient(keys), versions: keys });
      for (let i = 0; i < 40; i++) await cache.set(`a${i}`, 'pay', Buffer.from(`v${i}`));
      keys.rotate('pay');
      for (let i = 0; i < 30; i++) await cache.set(`b${i}`, 'pay', Buffer.from(`w${i}`));
      await cache.set('a0', 'pay', Buffer.from('moved'));
      // Act
      const counts = await cache.countByVersion('pay');
      const deleted = await cache.invalidateVersion('pay', 1);
      await cache.delete('b1');
      // Assess
      expect(counts).toEqual(new Map([[1, 39], [2, 31]]));
      expect(deleted).toBe(39);
      expect(await cache.get('a5')).toBeUndefined();
      expect((await cache.get('a0'))?.toString()).toBe('moved');
      expect((await cache.get('b2'))?.toString()).toBe('w2');
      expect(await cache.get('b1')).toBeUndefined();
      expect(await cache.countByVersion('pay')).toEqual(new Map([[2, 30]]));
      const spread = new Set((client as Cluster).nodes('master').map((n) => n.options.port));
      expect(spread.size).toBe(3);
    });

    it('sends concurrent writes per slot: every write lands, indexed, on its own shard', async () => {
      // Prepare
      const store = new RedisCacheStore(client, { keyPrefix: 'cw:', buckets: 16, commandTimeoutMs: 2000 });
      const writes = Array.from({ length: 200 }, (_, i) => ({ key: `c${i}`, value: Buffer.from(`v${i}`), version: (i % 2) + 1 }));
      // Act
      await Promise.all(writes.map((w) => store.set(w.key, w.value, 60, 'pay', w.version)));
      const counts = await store.countByVersion('pay');
      const deleted = await store.invalidateVersion('pay', 2);
      // Assess
      expect(counts).toEqual(new Map([[1, 100], [2, 100]]));
      expect(deleted).toBe(100);
      for (const w of writes.slice(0, 20)) {
        expect((await store.get(w.key))?.toString()).toBe(w.version === 1 ? `v${w.key.slice(1)}` : undefined);
      }
    });
  });
});
