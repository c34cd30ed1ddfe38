import { MemoryCacheStore } from '../../../shared/adapters/local/memory-cache-store';
import { SqliteRecordStore } from '../../../shared/adapters/local/sqlite-record-store';
import { StoreFactsSource } from '../../../shared/reencrypt';

describe('StoreFactsSource', () => {
  let records: SqliteRecordStore;
  let cache: MemoryCacheStore;

  beforeEach(async () => {
    records = new SqliteRecordStore({ path: ':memory:', headerLength: () => 1 });
    cache = new MemoryCacheStore();
    await records.putMany([
      { id: 'a', keyring: 'pii', version: 1, envelope: Buffer.from('xa') },
      { id: 'b', keyring: 'pii', version: 1, envelope: Buffer.from('xb') },
      { id: 'c', keyring: 'pii', version: 2, envelope: Buffer.from('xc') },
      { id: 'd', keyring: 'ops', version: 1, envelope: Buffer.from('xd') },
    ]);
    await cache.set('k1', Buffer.from('e'), 60, 'pii', 1);
    await cache.set('k2', Buffer.from('e'), 60, 'pii', 3);
  });

  afterEach(() => records.close());

  describe('references', () => {
    it('adds records and cache entries of the version', async () => {
      // Prepare
      const facts = new StoreFactsSource({ records, cache, escrowVerified: async () => false });
      // Act
      const counts = await Promise.all([1, 2, 3, 4].map((v) => facts.references('pii', v)));
      // Assess
      expect(counts).toEqual([3, 1, 1, 0]);
    });

    it('counts records only when no cache is given', async () => {
      // Prepare
      const facts = new StoreFactsSource({ records, escrowVerified: async () => false });
      // Act / Assess
      expect(await facts.references('pii', 1)).toBe(2);
    });
  });

  describe('escrowVerified', () => {
    it('asks the injected escrow check about that keyring and version', async () => {
      // Prepare
      const asked: string[] = [];
      const facts = new StoreFactsSource({ records, cache, escrowVerified: async (k, v) => { asked.push(`${k}:${v}`); return v === 2; } });
      // Act
      const answers = [await facts.escrowVerified('pii', 1), await facts.escrowVerified('pii', 2)];
      // Assess
      expect(answers).toEqual([false, true]);
      expect(asked).toEqual(['pii:1', 'pii:2']);
    });
  });
});
