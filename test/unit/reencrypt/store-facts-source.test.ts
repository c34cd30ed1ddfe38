import { MemoryCacheStore } from '../../../shared/adapters/local/memory-cache-store';
import { SqliteRecordStore } from '../../../shared/adapters/local/sqlite-record-store';
import { StoreFactsSource } from '../../../shared/reencrypt';
import { referencesOf } from '../../../shared/catalog/reference-counts';
import type { KeyVersion } from '../../../shared/catalog/model';

const RECORDED: KeyVersion = { version: 1, state: 'disabled', wrappingKeyId: 'memory:test', createdAt: '2030-01-01T00:00:00.000Z' };

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

  describe('referenceCounts', () => {
    it('adds records and cache entries of the version', async () => {
      // Prepare
      const facts = new StoreFactsSource({ records, cache, escrowVerified: async () => false });
      // Act
      const answer = await facts.referenceCounts('pii');
      const counts = [1, 2, 3, 4].map((v) => referencesOf(answer, v));
      // Assess
      expect(counts).toEqual([3, 1, 1, 0]);
    });

    it('counts records only when no cache is given', async () => {
      // Prepare
      const facts = new StoreFactsSource({ records, escrowVerified: async () => false });
      // Act / Assess
      expect(referencesOf(await facts.referenceCounts('pii'), 1)).toBe(2);
    });
  });

  describe('escrowVerified', () => {
    it('asks the injected escrow check about that keyring and version', async () => {
      // Prepare
      const asked: string[] = [];
      const facts = new StoreFactsSource({ records, cache, escrowVerified: async (k, v) => { asked.push(`${k}:${v}`); return v === 2; } });
      // Act
      const answers = [await facts.escrowVerified('pii', 1, RECORDED), await facts.escrowVerified('pii', 2, { ...RECORDED, version: 2 })];
      // Assess
      expect(answers).toEqual([false, true]);
      expect(asked).toEqual(['pii:1', 'pii:2']);
    });
  });
});
