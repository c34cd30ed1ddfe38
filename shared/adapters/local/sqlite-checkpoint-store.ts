/**
 * SqliteCheckpointStore: sweep checkpoints in a table of the record database
 * (`<home>/records.db`), so that a home folder carries its records and the progress of the
 * sweeps over them together.
 */
import Database from 'better-sqlite3';
import { ensurePrivateDirSync, preparePrivateDatabaseSync } from './file-modes';
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
}

/**
 * CheckpointStore on SQLite (WAL; a put is committed before it resolves).
 *
 * @example
 * const checkpoints = new SqliteCheckpointStore({ home: '.rekey' });
 * await sweeper.sweep('pii', 1, { mode: 'rewrap', checkpoint: checkpoints });
 */
export class SqliteCheckpointStore implements CheckpointStore {
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement<[string], { body: string }>;
  private readonly putStmt: Database.Statement<[string, string]>;
  private readonly clearStmt: Database.Statement<[string]>;

  public constructor(options: SqliteCheckpointStoreOptions) {
    const path = options.path ?? (options.home === undefined ? undefined : join(options.home, 'records.db'));
    if (path === undefined) throw new ValidationError('SqliteCheckpointStore needs a home or a path');
    if (options.path === undefined && options.home !== undefined) ensurePrivateDirSync(options.home);
    try {
      // Owner-only, created so and tightened when an older home left it 0644.
      preparePrivateDatabaseSync(path);
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
      this.db.exec('CREATE TABLE IF NOT EXISTS sweep_checkpoints (sweep_id TEXT PRIMARY KEY, body TEXT NOT NULL)');
      this.getStmt = this.db.prepare('SELECT body FROM sweep_checkpoints WHERE sweep_id = ?');
      this.putStmt = this.db.prepare(
        'INSERT INTO sweep_checkpoints (sweep_id, body) VALUES (?, ?) ON CONFLICT (sweep_id) DO UPDATE SET body = excluded.body',
      );
      this.clearStmt = this.db.prepare('DELETE FROM sweep_checkpoints WHERE sweep_id = ?');
    } catch (err) {
      throw new BackendError('cannot open the checkpoint database', { cause: err });
    }
  }

  /** Reads a sweep's checkpoint. */
  public async get(sweepId: string): Promise<SweepCheckpoint | undefined> {
    const row = this.run(() => this.getStmt.get(sweepId));
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
    this.run(() => this.putStmt.run(sweepId, JSON.stringify(checkpoint)));
  }

  /** Forgets a sweep's checkpoint. */
  public async clear(sweepId: string): Promise<void> {
    this.run(() => this.clearStmt.run(sweepId));
  }

  /** Closes the database. */
  public close(): void {
    if (this.db.open) this.db.close();
  }

  private run<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new BackendError('checkpoint database failure', { cause: err });
    }
  }
}
