/** The record-store contract (test/support/record-store-contract.ts) on the local SQLite store. */
import { describeRecordStoreContract } from '../../../support/record-store-contract';
import { openSqliteContractStore } from '../../../support/stores/sqlite';

describeRecordStoreContract('SqliteRecordStore', openSqliteContractStore);
