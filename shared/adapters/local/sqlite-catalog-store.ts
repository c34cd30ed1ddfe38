import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { describeStorageFailure, openLocalDatabase, retryBusy } from './open-database';
import { AlreadyExistsError, BackendError, ConflictError, isRekeyError, NotFoundError, ValidationError } from '../../errors';
import { parseCatalog } from '../../catalog/catalog-schema';
import { assertKeyringName } from '../../vocabulary/keyring-name';
import type { Catalog } from '../../catalog/model';
import type { CatalogStore, StoredCatalog } from '../../ports/catalog-store';
import type { CatalogAdmin, DeletedCatalog } from '../../ports/catalog-admin';

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
  CREATE TABLE IF NOT EXISTS deleted_catalogs (
    keyring    TEXT PRIMARY KEY,
    json       TEXT NOT NULL,
    etag       TEXT NOT NULL,
    generation INTEGER NOT NULL,
    deleted_at TEXT NOT NULL,
    actor      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    settles_at TEXT NOT NULL DEFAULT '',
    finished_at TEXT
  );
`;

/**
 * Tombstones written before a deletion had a settle window lack its two columns; those
 * deletions were final when written, so they are backfilled as finished then.
 */
function migrate(db: Database.Database): void {
  const columns = new Set(db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('deleted_catalogs')").all().map((c) => c.name));
  if (columns.has('finished_at')) return;
  db.transaction(() => {
    if (!columns.has('settles_at')) db.exec("ALTER TABLE deleted_catalogs ADD COLUMN settles_at TEXT NOT NULL DEFAULT ''");
    db.exec('ALTER TABLE deleted_catalogs ADD COLUMN finished_at TEXT');
    db.exec("UPDATE deleted_catalogs SET settles_at = deleted_at, finished_at = deleted_at WHERE finished_at IS NULL");
  })();
}

interface TombstoneRow {
  json: string;
  etag: string;
  generation: number;
  deleted_at: string;
  actor: string;
  reason: string;
  settles_at: string;
  finished_at: string | null;
}

const TOMBSTONE_COLUMNS = 'json, etag, generation, deleted_at, actor, reason, settles_at, finished_at';

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
 * fails with a BackendError naming the path. A deleted keyring leaves a tombstone
 * (`deleted_catalogs`): its name is never created again. While the deletion is not final,
 * `get` refuses the keyring with a ConflictError saying how to finish or undo it (see
 * CatalogAdmin).
 *
 * @example
 * const store = new SqliteCatalogStore(join(home, 'catalog.db'));
 * const etag = await store.put(catalog, null);
 */
export class SqliteCatalogStore implements CatalogStore, CatalogAdmin {
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
      migrate,
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
      // Only a miss pays for this look-up. A keyring being deleted is refused, not reported
      // absent: a writer must not use it, and a reader of a record written under it by a
      // writer with an older catalog must learn that a rerun of the delete restores it.
      const deleting = await this.run('read', () =>
        this.db.prepare<[string], { settles_at: string }>('SELECT settles_at FROM deleted_catalogs WHERE keyring = ? AND finished_at IS NULL').get(keyring),
      );
      if (deleting !== undefined) throw new ConflictError(beingDeleted(keyring, deleting.settles_at));
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
        // Checked in the same transaction as the insert: a delete cannot slip between them.
        const deleted = this.db.prepare<[string], { deleted_at: string; finished_at: string | null }>('SELECT deleted_at, finished_at FROM deleted_catalogs WHERE keyring = ?').get(catalog.keyring);
        if (deleted !== undefined) {
          const when = deleted.finished_at === null ? `is being deleted (since ${deleted.deleted_at})` : `was deleted on ${deleted.deleted_at}`;
          throw new AlreadyExistsError(`keyring '${catalog.keyring}' ${when}; its name is never reused: choose another name`);
        }
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

  /** @inheritdoc */
  public async tombstone(keyring: string, expectedEtag: string, info: { deletedAt: string; actor: string; reason: string; settlesAt: string }): Promise<void> {
    assertKeyringName(keyring);
    const move = this.db.transaction((): void => {
      const current = this.db.prepare<[string], CurrentRow>('SELECT json, etag, generation FROM catalogs WHERE keyring = ?').get(keyring);
      if (current === undefined || current.etag !== expectedEtag) {
        throw new ConflictError(`catalog '${keyring}' changed since it was read`);
      }
      this.db
        .prepare('INSERT INTO deleted_catalogs (keyring, json, etag, generation, deleted_at, actor, reason, settles_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)')
        .run(keyring, current.json, current.etag, current.generation, info.deletedAt, info.actor, info.reason, info.settlesAt);
      this.db.prepare('DELETE FROM catalogs WHERE keyring = ?').run(keyring);
    });
    await this.run('delete', () => move.immediate());
  }

  /**
   * How many deleted (tombstoned) keyrings the home keeps. Their catalogs still hold version keys
   * wrapped under the master key (a delete can be undone), so a home with tombstones is not empty.
   */
  public async deletedCount(): Promise<number> {
    const row = await this.run('read', () => this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM deleted_catalogs').get());
    return row?.n ?? 0;
  }

  /** @inheritdoc */
  public async deletedCatalog(keyring: string): Promise<DeletedCatalog | undefined> {
    assertKeyringName(keyring);
    const row = await this.run('read', () =>
      this.db.prepare<[string], TombstoneRow>(`SELECT ${TOMBSTONE_COLUMNS} FROM deleted_catalogs WHERE keyring = ?`).get(keyring),
    );
    if (row === undefined) return undefined;
    return {
      keyring,
      deletedAt: row.deleted_at,
      actor: row.actor,
      reason: row.reason,
      generation: row.generation,
      settlesAt: row.settles_at,
      ...(row.finished_at === null ? {} : { finishedAt: row.finished_at }),
    };
  }

  /** @inheritdoc */
  public async finishDelete(keyring: string, finishedAt: string): Promise<void> {
    assertKeyringName(keyring);
    const finished = await this.run('delete', () =>
      this.db.prepare('UPDATE deleted_catalogs SET finished_at = ? WHERE keyring = ? AND finished_at IS NULL').run(finishedAt, keyring),
    );
    if (finished.changes === 0) throw new ConflictError(`the deletion of keyring '${keyring}' was finished or undone by another run meanwhile; rerun 'rekey keyring delete ${keyring}' to see where it stands`);
  }

  /** @inheritdoc */
  public async restoreDeleted(keyring: string): Promise<void> {
    assertKeyringName(keyring);
    const move = this.db.transaction((): void => {
      const row = this.db.prepare<[string], TombstoneRow>(`SELECT ${TOMBSTONE_COLUMNS} FROM deleted_catalogs WHERE keyring = ?`).get(keyring);
      if (row === undefined) throw new NotFoundError(`keyring '${keyring}' was not deleted`);
      // The name was never reused (put refuses it), so the row is free for the catalog as it was.
      this.db.prepare('INSERT INTO catalogs (keyring, json, etag, generation) VALUES (?, ?, ?, ?)').run(keyring, row.json, row.etag, row.generation);
      this.db.prepare('DELETE FROM deleted_catalogs WHERE keyring = ?').run(keyring);
    });
    await this.run('restore', () => move.immediate());
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

/** Why a keyring being deleted is refused, and the one command that finishes or undoes it. */
function beingDeleted(keyring: string, settlesAt: string): string {
  return `keyring '${keyring}' is being deleted: rerun 'rekey keyring delete ${keyring}' to restore it if records were written under it, or after ${settlesAt} to finish the deletion`;
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
