import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileEscrowStore } from '../../../shared/adapters/local/file-escrow-store';
import { MemoryCacheStore } from '../../../shared/adapters/local/memory-cache-store';
import { SqliteRecordStore } from '../../../shared/adapters/local/sqlite-record-store';
import type { KeyVersion } from '../../../shared/catalog/model';
import { buildLifecycleFacts } from '../../../shared/compose/lifecycle-facts';

const DISABLED: KeyVersion = { version: 1, state: 'disabled', wrappingKeyId: 'memory:test', createdAt: '2030-01-01T00:00:00.000Z' };
const DRILLED: KeyVersion = { ...DISABLED, escrowVerifiedAt: '2030-01-02T00:00:00.000Z' };

describe('buildLifecycleFacts', () => {
  let home: string;
  let records: SqliteRecordStore;
  let escrowStore: FileEscrowStore;
  let cache: MemoryCacheStore;
  let recordCounts: number;

  beforeEach(async () => {
    home = mkdtempSync(join(tmpdir(), 'rekey-facts-'));
    records = new SqliteRecordStore({ path: ':memory:', headerLength: () => 1 });
    escrowStore = new FileEscrowStore({ home });
    cache = new MemoryCacheStore();
    recordCounts = 0;
    await records.putMany([
      { id: 'a', keyring: 'pii', version: 1, envelope: Buffer.from('xa') },
      { id: 'b', keyring: 'pii', version: 2, envelope: Buffer.from('xb') },
    ]);
    await cache.set('k1', Buffer.from('e'), 60, 'pii', 2);
  });

  afterEach(() => {
    records.close();
    rmSync(home, { recursive: true, force: true });
  });

  const counted = { countByVersion: (keyring: string) => ((recordCounts += 1), records.countByVersion(keyring)) };

  describe('referenceCounts', () => {
    it('counts the record store once for every version, with the cache beside it', async () => {
      // Prepare
      const facts = buildLifecycleFacts({ records: counted, cache, escrowStore });
      // Act
      const counts = await facts.referenceCounts('pii');
      // Assess
      expect(recordCounts).toBe(1);
      expect([...counts.records].sort()).toEqual([[1, 1], [2, 1]]);
      expect([...(counts.cacheEntries ?? [])]).toEqual([[2, 1]]);
    });

    it('has no cache counts without a cache', async () => {
      // Prepare
      const facts = buildLifecycleFacts({ records: counted, escrowStore });
      // Act / Assess
      expect((await facts.referenceCounts('pii')).cacheEntries).toBeUndefined();
    });
  });

  describe('escrowVerified', () => {
    it('is false without a drill stamp on the version as read, even with an escrow record', async () => {
      // Prepare
      await escrowStore.put({ schema: 1, keyring: 'pii', version: 1, wrappedKey: 'AAAA', escrowKeyId: 'local', canary: 'AAAA', createdAt: DISABLED.createdAt, wrappingKeyId: 'memory:test' });
      const facts = buildLifecycleFacts({ records: counted, escrowStore });
      // Act / Assess
      expect(await facts.escrowVerified('pii', 1, DISABLED)).toBe(false);
    });

    it('is false with a drill stamp but no escrow record', async () => {
      // Prepare
      const facts = buildLifecycleFacts({ records: counted, escrowStore });
      // Act / Assess
      expect(await facts.escrowVerified('pii', 1, DRILLED)).toBe(false);
    });

    it('is true with a drill stamp and the escrow record', async () => {
      // Prepare
      await escrowStore.put({ schema: 1, keyring: 'pii', version: 1, wrappedKey: 'AAAA', escrowKeyId: 'local', canary: 'AAAA', createdAt: DISABLED.createdAt, wrappingKeyId: 'memory:test' });
      const facts = buildLifecycleFacts({ records: counted, escrowStore });
      // Act / Assess
      expect(await facts.escrowVerified('pii', 1, DRILLED)).toBe(true);
    });
  });
});
