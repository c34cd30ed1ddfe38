import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { describeStorageFailure, openLocalDatabase, retryBusy } from './open-database';
import { BackendError, ConflictError, isRekeyError, ValidationError } from '../../errors';
import { parseCatalog } from '../../catalog/catalog-schema';
import { assertKeyringName } from '../../vocabulary/keyring-name';
import type { Catalog } from '../../catalog/model';
import type { CatalogStore, StoredCatalog } from '../../ports/catalog-store';

/** One write of a catalog, as kept in the append-only history. */
export interface CatalogHistoryEntry {
  /** The store's write counter for this keyring (1 for the first write). */
  readonly generation: number;
  readonly etag: string;
  readonly writtenAt: string;
  readonly catalog: Catalog;
}

/** Options of {@link SqliteCatalogStore}. */
export interface SqliteCatalogStoreOptions {
  /**
   * How long a writer waits for another process's lock before failing with a retryable BackendError.
   * @default 5000
   */
  readonly busyTimeoutMs?: number;
  /**
   * Open read-only even when the home is writable (a command that only reads); every write then
   * fails with a BackendError naming the path.
   * @default false: read-only only when the home cannot be written
   */
  readonly readOnly?: boolean;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS catalogs (
    keyring    TEXT PRIMARY KEY,
    json       TEXT NOT NULL,
    etag       TEXT NOT NULL,
    generation INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS catalog_history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    keyring    TEXT NOT NULL,
    generation INTEGER NOT NULL,
    etag       TEXT NOT NULL,
    json       TEXT NOT NULL,
    written_at TEXT NOT NULL,
    UNIQUE (keyring, generation)
  );
`;

interface CurrentRow {
  json: string;
  etag: string;
  generation: number;
}

/**
 * CatalogStore on an embedded SQLite database (`<home>/catalog.db`), shared safely by several
 * processes: WAL journal, a busy timeout, and compare-and-swap as a conditional UPDATE inside
 * an immediate transaction, retried a bounded number of times when another process holds the
 * lock past the timeout. Every write is also appended to a history table, like the versioned
 * bucket on AWS. On a read-only home the store reads (see open-database.ts) and every write
 * fails with a BackendError naming the path.
 *
 * @example
 * const store = new SqliteCatalogStore(join(home, 'catalog.db'));
 * const etag = await store.put(catalog, null);
 */
export class SqliteCatalogStore implements CatalogStore {
  /** The database file (`:memory:` for an in-memory store). */
  public readonly path: string;
  /** True when the home could not be written (or read-only was asked): reads work, writes fail naming the path. */
  public readonly readOnly: boolean;
  private readonly db: Database.Database;

  /**
   * Opens (and creates if needed) the database at `path`; `:memory:` gives a private in-memory store.
   * The file is created 0600, and an existing one with group or other bits is tightened to
   * owner-only (on a writable home only).
   * @throws BackendError naming the path when the file cannot be opened or is not a catalog database.
   */
  public constructor(path: string, options: SqliteCatalogStoreOptions = {}) {
    // Owner-only (the catalog holds every wrapped version key of every keyring); WAL, busy
    // timeout; read-only, creating nothing, on a home that cannot be written.
    const opened = openLocalDatabase(path, {
      label: 'catalog database',
      schema: SCHEMA,
      busyTimeoutMs: options.busyTimeoutMs,
      readOnly: options.readOnly,
      // NORMAL is durable across process crashes in WAL mode (only an OS crash may lose the last commit).
      pragmas: ['synchronous = NORMAL'],
    });
    this.db = opened.db;
    this.path = opened.path;
    this.readOnly = opened.readOnly;
  }

  /** @inheritdoc */
  public async get(keyring: string): Promise<StoredCatalog | undefined> {
    assertKeyringName(keyring);
    const row = await this.run('read', () => this.db.prepare<[string], CurrentRow>('SELECT json, etag, generation FROM catalogs WHERE keyring = ?').get(keyring));
    if (row === undefined) {
      return undefined;
    }
    return { catalog: decode(keyring, row.json, row.generation), etag: row.etag };
  }

  /** @inheritdoc */
  public async list(): Promise<string[]> {
    const rows = await this.run('list', () => this.db.prepare<[], { keyring: string }>('SELECT keyring FROM catalogs ORDER BY keyring').all());
    return rows.map((r) => r.keyring);
  }

  /** @inheritdoc */
  public async put(catalog: Catalog, expectedEtag: string | null): Promise<string> {
    let json: string;
    try {
      json = JSON.stringify(parseCatalog(catalog));
    } catch (err) {
      throw isRekeyError(err) ? err : new ValidationError('the catalog is not serializable', { cause: err });
    }
    assertKeyringName(catalog.keyring);
    const write = this.db.transaction((): string => {
      if (expectedEtag === null) {
        const etag = etagOf(json, 1);
        const inserted = this.db
          .prepare('INSERT INTO catalogs (keyring, json, etag, generation) VALUES (?, ?, ?, 1) ON CONFLICT (keyring) DO NOTHING')
          .run(catalog.keyring, json, etag);
        if (inserted.changes === 0) {
          throw new ConflictError(`catalog '${catalog.keyring}' already exists`);
        }
        return this.keep(catalog.keyring, 1, etag, json);
      }
      const current = this.db.prepare<[string], CurrentRow>('SELECT json, etag, generation FROM catalogs WHERE keyring = ?').get(catalog.keyring);
      const generation = (current?.generation ?? 0) + 1;
      const etag = etagOf(json, generation);
      const updated = this.db
        .prepare('UPDATE catalogs SET json = ?, etag = ?, generation = ? WHERE keyring = ? AND etag = ?')
        .run(json, etag, generation, catalog.keyring, expectedEtag);
      if (updated.changes === 0) {
        throw new ConflictError(`catalog '${catalog.keyring}' changed since it was read`);
      }
      return this.keep(catalog.keyring, generation, etag, json);
    });
    // IMMEDIATE takes the write lock before reading, so two processes cannot interleave a CAS,
    // and a stale read snapshot (SQLITE_BUSY_SNAPSHOT) cannot happen; a lock held past the busy
    // timeout is retried, since a failed transaction rolled back whole.
    return this.run('write', () => write.immediate());
  }

  /**
   * Every write of a keyring's catalog, oldest first (the audit trail of catalog changes).
   * @throws BackendError when a stored entry is corrupt.
   */
  public async history(keyring: string): Promise<CatalogHistoryEntry[]> {
    assertKeyringName(keyring);
    const rows = await this.run('read history', () =>
      this.db
        .prepare<[string], { generation: number; etag: string; json: string; written_at: string }>(
          'SELECT generation, etag, json, written_at FROM catalog_history WHERE keyring = ? ORDER BY generation',
        )
        .all(keyring),
    );
    return rows.map((r) => ({ generation: r.generation, etag: r.etag, writtenAt: r.written_at, catalog: decode(keyring, r.json, r.generation) }));
  }

  /** Closes the database; the store cannot be used afterwards. */
  public close(): void {
    this.db.close();
  }

  private keep(keyring: string, generation: number, etag: string, json: string): string {
    this.db
      .prepare('INSERT INTO catalog_history (keyring, generation, etag, json, written_at) VALUES (?, ?, ?, ?, ?)')
      .run(keyring, generation, etag, json, new Date().toISOString());
    return etag;
  }

  private async run<T>(action: string, fn: () => T): Promise<T> {
    try {
      return await retryBusy(fn);
    } catch (err) {
      throw describeStorageFailure('catalog database', this.path, err, action);
    }
  }
}

function etagOf(json: string, generation: number): string {
  return createHash('sha256').update(`${generation}\n${json}`).digest('hex').slice(0, 32);
}

function decode(keyring: string, json: string, generation: number): Catalog {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new BackendError(`stored catalog '${keyring}' (write ${generation}) is not valid JSON`, { cause: err, retryable: false });
  }
  try {
    const catalog = parseCatalog(value);
    if (catalog.keyring !== keyring) {
      throw new ValidationError(`it names keyring '${catalog.keyring.slice(0, 64)}'`);
    }
    return catalog;
  } catch (err) {
    throw new BackendError(`stored catalog '${keyring}' (write ${generation}) is corrupt: ${message(err)}`, { cause: err, retryable: false });
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
