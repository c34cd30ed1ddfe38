/**
 * A {@link MigrationStore} over a rekey RecordStore that can list its records (the local SQLite
 * store): rows whose bytes are not an envelope yet (written as they were before rekey) are read
 * raw and replaced with a conditional put on their row revision.
 */
import type { RecordAdmin } from '../ports/record-admin';
import type { MigratedWrite, MigrationStore, RawRecord, RawRecordPage } from './migration-ports';

/** Options of {@link RecordStoreMigrationStore}. */
export interface RecordStoreMigrationStoreOptions {
  readonly records: RecordAdmin;
  /** Only rows indexed under this keyring. @default every row */
  readonly keyring?: string;
  /** Names the store in reports and the migration id. @default 'records' */
  readonly label?: string;
}

/**
 * Migration over a listable RecordStore.
 *
 * @example
 * const store = new RecordStoreMigrationStore({ records: new SqliteRecordStore({ home: '.rekey' }), keyring: 'pii' });
 * await migrateRecords({ keyring: 'pii', from: 'plaintext', store, envelopes });
 */
export class RecordStoreMigrationStore implements MigrationStore {
  public readonly label: string;
  private readonly records: RecordAdmin;
  private readonly keyring: string | undefined;

  public constructor(options: RecordStoreMigrationStoreOptions) {
    this.records = options.records;
    this.keyring = options.keyring;
    this.label = options.label ?? (options.keyring === undefined ? 'records' : `records/${options.keyring}`);
  }

  public async list(options: { cursor?: string; limit: number }): Promise<RawRecordPage> {
    const page = await this.records.listRecords({
      limit: options.limit,
      ...(this.keyring === undefined ? {} : { keyring: this.keyring }),
      ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
    });
    return { ids: page.items.map((r) => r.id), ...(page.cursor === undefined ? {} : { cursor: page.cursor }) };
  }

  public async read(id: string): Promise<RawRecord | undefined> {
    const r = await this.records.get(id);
    return r === undefined ? undefined : { id: r.id, bytes: r.envelope, revision: r.revision };
  }

  public async replace(read: RawRecord, write: MigratedWrite): Promise<string> {
    return this.records.put({ id: read.id, keyring: write.keyring, version: write.version, envelope: write.envelope }, read.revision);
  }
}
