/**
 * Crash injection of the sweep on the local SQLite store, at every call (the suite itself is
 * test/support/sweep-store-suites.ts; the other stores run it in test/integration/reencrypt).
 */
import { SqliteRecordStore } from '../../../shared/adapters/local/sqlite-record-store';
import { describeSweepCrashInjection } from '../../support/sweep-store-suites';

const inMemory = async (): Promise<{ store: SqliteRecordStore; peer: SqliteRecordStore; close: () => Promise<void> }> => {
  // One in-memory database: the peer is the same connection (the SQLite contract suite covers two).
  const store = new SqliteRecordStore({ path: ':memory:' });
  return { store, peer: store, close: async () => store.close() };
};

describeSweepCrashInjection('SqliteRecordStore', inMemory, { stride: 1, minPoints: 20 });
