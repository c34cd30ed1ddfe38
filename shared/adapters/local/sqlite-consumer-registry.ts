/**
 * ConsumerRegistry of a local home: a table of the catalog database (`<home>/catalog.db`), next
 * to the catalogs it names, with the catalog store's atomicity: compare-and-swap as a
 * conditional UPDATE (or an INSERT that must not conflict) inside an immediate transaction,
 * retried a bounded number of times when another process holds the lock past the busy timeout.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { decodeConsumerDocument, parseConsumerDocument, type ConsumerDocument } from '../../consumers/consumer-document';
import { ConflictError, ValidationError } from '../../errors';
import type { ConsumerRegistry, StoredConsumers } from '../../ports/consumer-registry';
import { assertKeyringName } from '../../vocabulary/keyring-name';
import { describeStorageFailure, openLocalDatabase, retryBusy } from './open-database';

/** Options of {@link SqliteConsumerRegistry}. */
export interface SqliteConsumerRegistryOptions {
  /** @default 5000 */
  readonly busyTimeoutMs?: number;
  /** Open read-only even when the home is writable. @default false: read-only only when the home cannot be written */
  readonly readOnly?: boolean;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS consumer_registry (
    keyring    TEXT PRIMARY KEY,
    json       TEXT NOT NULL,
    revision   TEXT NOT NULL,
    generation INTEGER NOT NULL
  );
`;

interface Row {
  json: string;
  revision: string;
  generation: number;
}

/**
 * {@link ConsumerRegistry} on SQLite.
 *
 * @example
 * const registry = new SqliteConsumerRegistry(join(home, 'catalog.db'));
 * await registry.put({ schema: 1, keyring: 'pii', consumers: [] }, null);
 */
export class SqliteConsumerRegistry implements ConsumerRegistry {
  /** The database file. */
  public readonly path: string;
  private readonly db: Database.Database;

  /**
   * Opens (creating the table if needed) the database at `path`; `:memory:` gives a private store.
   * @throws BackendError naming the path when the file cannot be opened.
   */
  public constructor(path: string, options: SqliteConsumerRegistryOptions = {}) {
    const opened = openLocalDatabase(path, { label: 'catalog database', schema: SCHEMA, busyTimeoutMs: options.busyTimeoutMs, readOnly: options.readOnly, pragmas: ['synchronous = NORMAL'] });
    this.db = opened.db;
    this.path = opened.path;
  }

  /** @inheritdoc */
  public async get(keyring: string): Promise<StoredConsumers | undefined> {
    assertKeyringName(keyring);
    const row = await this.run('read', () => this.db.prepare<[string], Row>('SELECT json, revision, generation FROM consumer_registry WHERE keyring = ?').get(keyring));
    if (row === undefined) return undefined;
    return { document: decodeConsumerDocument(keyring, row.json), revision: row.revision };
  }

  /** @inheritdoc */
  public async put(document: ConsumerDocument, expectedRevision: string | null): Promise<string> {
    const valid = parseConsumerDocument(document);
    if (expectedRevision !== null && (typeof expectedRevision !== 'string' || expectedRevision.length === 0)) {
      throw new ValidationError('expectedRevision must be a non-empty string, or null to create');
    }
    const json = JSON.stringify(valid);
    const write = this.db.transaction((): string => {
      if (expectedRevision === null) {
        const revision = revisionOf(json, 1);
        const inserted = this.db.prepare('INSERT INTO consumer_registry (keyring, json, revision, generation) VALUES (?, ?, ?, 1) ON CONFLICT (keyring) DO NOTHING').run(valid.keyring, json, revision);
        if (inserted.changes === 0) throw new ConflictError(`consumer registry of keyring '${valid.keyring}' was created by another writer`);
        return revision;
      }
      const current = this.db.prepare<[string], Row>('SELECT json, revision, generation FROM consumer_registry WHERE keyring = ?').get(valid.keyring);
      const generation = (current?.generation ?? 0) + 1;
      const revision = revisionOf(json, generation);
      const updated = this.db.prepare('UPDATE consumer_registry SET json = ?, revision = ?, generation = ? WHERE keyring = ? AND revision = ?').run(json, revision, generation, valid.keyring, expectedRevision);
      if (updated.changes === 0) throw new ConflictError(`consumer registry of keyring '${valid.keyring}' changed since it was read`);
      return revision;
    });
    // IMMEDIATE takes the write lock before the read, so two processes cannot interleave a CAS.
    return this.run('write', () => write.immediate());
  }

  /** @inheritdoc */
  public async list(): Promise<string[]> {
    const rows = await this.run('list', () => this.db.prepare<[], { keyring: string }>('SELECT keyring FROM consumer_registry ORDER BY keyring').all());
    return rows.map((r) => r.keyring);
  }

  /** Closes the database; the registry cannot be used afterwards. */
  public close(): void {
    this.db.close();
  }

  private async run<T>(action: string, fn: () => T): Promise<T> {
    try {
      return await retryBusy(fn);
    } catch (err) {
      throw describeStorageFailure('catalog database', this.path, err, action);
    }
  }
}

function revisionOf(json: string, generation: number): string {
  return createHash('sha256').update(`${generation}\n${json}`).digest('hex').slice(0, 32);
}
