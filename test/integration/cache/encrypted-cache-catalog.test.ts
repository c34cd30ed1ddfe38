import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../../support/scratch';
import { Redis } from 'ioredis';
import { FileKeyVault } from '../../../shared/adapters/local/file-key-vault';
import { SqliteCatalogStore } from '../../../shared/adapters/local/sqlite-catalog-store';
import { RedisCacheStore } from '../../../shared/adapters/redis/redis-cache-store';
import { EncryptedCache } from '../../../shared/cache';
import { KeyringService } from '../../../shared/catalog';
import { EnvelopeClient } from '../../../shared/envelope';
import { CatalogKeyProvider } from '../../../shared/keys';
import { RecordingMetrics } from '../../unit/cache/support/test-key-provider';

// The real chain: EncryptedCache → EnvelopeClient → CatalogKeyProvider → SQLite catalog + file vault, on Redis.
const PREFIX = `it-cache-catalog-${process.pid}-${randomBytes(3).toString('hex')}:`;
const SECRET = Buffer.from('catalog-backed-secret-value');
let home: string;
let redis: Redis;
let store: RedisCacheStore;
let catalogStore: SqliteCatalogStore;
let vault: FileKeyVault;
let keyrings: KeyringService;

function cacheWith(provider: CatalogKeyProvider, metrics?: RecordingMetrics): EncryptedCache {
  return new EncryptedCache({ store, envelopes: new EnvelopeClient(provider), versions: provider, ...(metrics ? { metrics } : {}) });
}

beforeAll(async () => {
  home = scratchDir('rekey-cache-it-');
  vault = new FileKeyVault({ home });
  catalogStore = new SqliteCatalogStore(join(home, 'catalog.db'));
  keyrings = new KeyringService({
    store: catalogStore,
    vault,
    audit: { record: async () => undefined },
    clock: () => new Date(),
    facts: { referenceCounts: async () => ({ records: new Map() }), escrowVerified: async () => true },
  });
  await keyrings.createKeyring('pay', undefined, { actor: 'test' });
  redis = new Redis(process.env.REKEY_TEST_REDIS_URL!);
  store = new RedisCacheStore(redis, { keyPrefix: PREFIX, commandTimeoutMs: 2000 });
});

afterAll(async () => {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  if (keys.length > 0) await redis.unlink(...keys);
  redis.disconnect();
  rmSync(home, { recursive: true, force: true });
});

describe('EncryptedCache with CatalogKeyProvider', () => {
  describe('get', () => {
    it('serves entries of the active version, then refuses and deletes one a stale writer put back after a revocation purge', async () => {
      // Prepare: the stale writer caches the catalog for an hour, the reader re-reads it.
      const stale = cacheWith(new CatalogKeyProvider({ store: catalogStore, vault, catalogTtlMs: 3_600_000 }));
      await stale.set('before', 'pay', SECRET, { context: { tenant: 'acme' } });
      const metrics = new RecordingMetrics();
      const reader = cacheWith(new CatalogKeyProvider({ store: catalogStore, vault, catalogTtlMs: 1, minRefreshIntervalMs: 0 }), metrics);
      const servedBefore = await reader.get('before', { context: { tenant: 'acme' } });
      await keyrings.revoke('pay', 1, { reason: 'test exposure', actor: 'test' });
      const purged = await reader.invalidateVersion('pay', 1);
      // Act
      const staleWrite = await stale.set('after', 'pay', SECRET, { context: { tenant: 'acme' } });
      const staleCount = await reader.countByVersion('pay');
      const served = await reader.get('after', { context: { tenant: 'acme' } });
      // Assess
      expect(servedBefore?.equals(SECRET)).toBe(true);
      expect(purged).toBe(1);
      expect(staleWrite).toBe(true);
      expect(staleCount).toEqual(new Map([[1, 1]]));
      expect(served).toBeUndefined();
      expect(await store.get('after')).toBeUndefined();
      expect(metrics.events).toContainEqual({ name: 'cache.refused', dimensions: { state: 'revoked' } });
    });
  });
});
