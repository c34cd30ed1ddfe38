/**
 * Application writers racing the sweep on the local SQLite store, two connections to one file
 * (the suite itself is test/support/sweep-store-suites.ts; the other stores run it in
 * test/integration/reencrypt).
 */
import { describeSweepConcurrency } from '../../support/sweep-store-suites';
import { openSqliteContractStore } from '../../support/stores/sqlite';

describeSweepConcurrency('SqliteRecordStore', openSqliteContractStore, { seeds: 40 });
