/**
 * KeyUseLog on an embedded SQLite database in the rekey home (`<home>/key-use.db`, 0600): the
 * last observed unwrap of each version key, kept as a monotonic maximum, and the instant the log
 * began observing (written once, when the database is first created). Several processes share
 * it like the other databases of the home: WAL, a busy timeout, immediate write transactions and
 * a bounded retry when another process holds the lock.
 */
import type Database from 'better-sqlite3';
import { describeStorageFailure, openLocalDatabase, retryBusy } from './open-database';
import { ValidationError } from '../../errors';
import { assertKeyringName } from '../../vocabulary/keyring-name';
import type { KeyUse, KeyUseLog } from '../../ports/key-use-log';

/** Options of {@link SqliteKeyUseLog}. */
export interface SqliteKeyUseLogOptions {
  /** Milliseconds since the epoch; the log's start is stamped with it on creation. @default Date.now */
  readonly clock?: () => number;
  /** @default 5000 */
  readonly busyTimeoutMs?: number;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS key_use (
    keyring TEXT NOT NULL,
    version INTEGER NOT NULL,
    at_ms   INTEGER NOT NULL,
    by      TEXT,
    PRIMARY KEY (keyring, version)
  );
  CREATE TABLE IF NOT EXISTS key_use_meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  );
`;

const MAX_BY_LENGTH = 256;

/**
 * The local KeyUseLog.
 *
 * @example
 * const log = new SqliteKeyUseLog(join(home, 'key-use.db'));
 * await log.recordUse('pii', 1, { at: new Date(), by: 'local' });
 * (await log.lastUse('pii')).get(1)?.at;
 */
export class SqliteKeyUseLog implements KeyUseLog {
  /** The database file (`:memory:` for an in-memory log). */
  public readonly path: string;
  /** True when the home cannot be written: reads work, {@link recordUse} fails naming the path. */
  public readonly readOnly: boolean;
  private readonly db: Database.Database;

  /** @throws BackendError naming the path when the database cannot be opened. */
  public constructor(path: string, options: SqliteKeyUseLogOptions = {}) {
    const clock = options.clock ?? Date.now;
    const opened = openLocalDatabase(path, {
      label: 'key-use database',
      schema: SCHEMA,
      busyTimeoutMs: options.busyTimeoutMs,
      pragmas: ['synchronous = NORMAL'],
      // The log's start, once: silence before it proves nothing, so it is never moved back.
      migrate: (db) => {
        db.prepare("INSERT INTO key_use_meta (name, value) VALUES ('observing_since', ?) ON CONFLICT (name) DO NOTHING").run(Math.trunc(clock()));
      },
    });
    this.db = opened.db;
    this.path = opened.path;
    this.readOnly = opened.readOnly;
  }

  /** @inheritdoc */
  public async recordUse(keyring: string, version: number, use: KeyUse): Promise<void> {
    assertKeyringName(keyring);
    if (!Number.isSafeInteger(version) || version < 1) throw new ValidationError('a version is a positive integer');
    const at = use.at.getTime();
    if (Number.isNaN(at)) throw new ValidationError('invalid key-use time');
    const by = use.by === undefined ? null : use.by.slice(0, MAX_BY_LENGTH);
    // One statement, so the maximum is kept whatever order concurrent writers commit in.
    const write = (): Database.Transaction<() => Database.RunResult> => this.db.transaction(() =>
      this.db
        .prepare(
          `INSERT INTO key_use (keyring, version, at_ms, by) VALUES (?, ?, ?, ?)
           ON CONFLICT (keyring, version) DO UPDATE SET
             by = CASE WHEN excluded.at_ms > key_use.at_ms THEN excluded.by ELSE key_use.by END,
             at_ms = MAX(key_use.at_ms, excluded.at_ms)`,
        )
        .run(keyring, version, at, by),
    );
    await this.run('record use', () => write().immediate());
  }

  /** @inheritdoc */
  public async lastUse(keyring: string): Promise<ReadonlyMap<number, KeyUse>> {
    assertKeyringName(keyring);
    const rows = await this.run('read', () =>
      this.db.prepare<[string], { version: number; at_ms: number; by: string | null }>('SELECT version, at_ms, by FROM key_use WHERE keyring = ?').all(keyring),
    );
    return new Map(rows.map((r) => [r.version, r.by === null ? { at: new Date(r.at_ms) } : { at: new Date(r.at_ms), by: r.by }]));
  }

  /** @inheritdoc */
  public async observingSince(keyring: string): Promise<Date | undefined> {
    assertKeyringName(keyring);
    const row = await this.run('read', () => this.db.prepare<[], { value: number }>("SELECT value FROM key_use_meta WHERE name = 'observing_since'").get());
    return row === undefined ? undefined : new Date(row.value);
  }

  /** Closes the database. */
  public close(): void {
    this.db.close();
  }

  private async run<T>(action: string, fn: () => T): Promise<T> {
    try {
      return await retryBusy(fn);
    } catch (err) {
      throw describeStorageFailure('key-use database', this.path, err, action);
    }
  }
}
