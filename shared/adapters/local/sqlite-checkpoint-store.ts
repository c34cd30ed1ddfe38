/**
 * SqliteCheckpointStore: sweep checkpoints in a table of the record database
 * (`<home>/records.db`), so that a home folder carries its records and the progress of the
 * sweeps over them together.
 */
import type Database from 'better-sqlite3';
import { ensurePrivateDirSync } from './file-modes';
import { describeStorageFailure, openLocalDatabase, retryBusy } from './open-database';
import { join } from 'node:path';
import { BackendError, ValidationError } from '../../errors';
import type { CheckpointStore, SweepCheckpoint } from '../../ports/checkpoint-store';

/** Options of {@link SqliteCheckpointStore}. */
export interface SqliteCheckpointStoreOptions {
  /** The rekey home; the database is `<home>/records.db`. Ignored when `path` is given. */
  readonly home?: string;
  /** Explicit database path. */
  readonly path?: string;
  /** @default 5000 */
  readonly busyTimeoutMs?: number;
  /** Open read-only even when the home is writable. @default false: read-only only when the home cannot be written */
  readonly readOnly?: boolean;
}

/**
 * CheckpointStore on SQLite (WAL; a put is committed before it resolves). Each call is one
 * statement in its own (autocommit) transaction, which SQLite's busy handler covers whole; a
 * lock held past the busy timeout is retried a bounded number of times. On a read-only home
 * checkpoints read and every write fails with a BackendError naming the path.
 *
 * @example
 * const checkpoints = new SqliteCheckpointStore({ home: '.rekey' });
 * await sweeper.sweep('pii', 1, { mode: 'rewrap', checkpoint: checkpoints });
 */
export class SqliteCheckpointStore implements CheckpointStore {
  /** The database file. */
  public readonly path: string;
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement<[string], { body: string }>;
  private readonly putStmt: Database.Statement<[string, string]>;
  private readonly clearStmt: Database.Statement<[string]>;

  public constructor(options: SqliteCheckpointStoreOptions) {
    const path = options.path ?? (options.home === undefined ? undefined : join(options.home, 'records.db'));
    if (path === undefined) throw new ValidationError('SqliteCheckpointStore needs a home or a path');
    if (options.path === undefined && options.home !== undefined) ensurePrivateDirSync(options.home);
    // The busy timeout is set before WAL (switching modes takes a lock another process may hold).
    const opened = openLocalDatabase(path, {
      label: 'checkpoint database',
      schema: 'CREATE TABLE IF NOT EXISTS sweep_checkpoints (sweep_id TEXT PRIMARY KEY, body TEXT NOT NULL)',
      busyTimeoutMs: options.busyTimeoutMs,
      readOnly: options.readOnly,
    });
    this.db = opened.db;
    this.path = opened.path;
    this.getStmt = this.db.prepare('SELECT body FROM sweep_checkpoints WHERE sweep_id = ?');
    this.putStmt = this.db.prepare(
      'INSERT INTO sweep_checkpoints (sweep_id, body) VALUES (?, ?) ON CONFLICT (sweep_id) DO UPDATE SET body = excluded.body',
    );
    this.clearStmt = this.db.prepare('DELETE FROM sweep_checkpoints WHERE sweep_id = ?');
  }

  /** Reads a sweep's checkpoint. */
  public async get(sweepId: string): Promise<SweepCheckpoint | undefined> {
    const row = await this.run('read', () => this.getStmt.get(sweepId));
    if (row === undefined) return undefined;
    try {
      return JSON.parse(row.body) as SweepCheckpoint;
    } catch (err) {
      throw new BackendError(`checkpoint of sweep '${sweepId}' is unreadable`, { cause: err, retryable: false });
    }
  }

  /** Saves a sweep's checkpoint. */
  public async put(sweepId: string, checkpoint: SweepCheckpoint): Promise<void> {
    if (sweepId.length === 0) throw new ValidationError('sweep id must not be empty');
    await this.run('write', () => this.putStmt.run(sweepId, JSON.stringify(checkpoint)));
  }

  /** Forgets a sweep's checkpoint. */
  public async clear(sweepId: string): Promise<void> {
    await this.run('clear', () => this.clearStmt.run(sweepId));
  }

  /** Closes the database. */
  public close(): void {
    if (this.db.open) this.db.close();
  }

  private async run<T>(action: string, fn: () => T): Promise<T> {
    try {
      return await retryBusy(fn);
    } catch (err) {
      throw describeStorageFailure('checkpoint database', this.path, err, action);
    }
  }
}
