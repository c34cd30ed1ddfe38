/**
 * A CheckpointStore in one JSON file, for a migration run from a workstation or a CI job under
 * the application team's credentials (no rekey home there). Each save writes a temporary file,
 * flushes it to disk and renames it over the old one, so a crash leaves the previous checkpoint
 * or the new one, never half of one. Holds ids, cursors and counts only.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { BackendError, ValidationError } from '../errors';
import type { CheckpointStore, SweepCheckpoint } from '../ports/checkpoint-store';

type Saved = Record<string, SweepCheckpoint>;

/**
 * Checkpoints of any number of migrations in one file.
 *
 * @example
 * const checkpoint = new FileCheckpointStore('./orders-migration.checkpoint.json');
 * await migrateRecords({ keyring: 'orders', from: 'plaintext', store, envelopes: rekey, checkpoint });
 */
export class FileCheckpointStore implements CheckpointStore {
  public constructor(private readonly path: string) {
    if (typeof path !== 'string' || path.length === 0) throw new ValidationError('a checkpoint file path is required');
  }

  public async get(sweepId: string): Promise<SweepCheckpoint | undefined> {
    return this.load()[sweepId];
  }

  public async put(sweepId: string, checkpoint: SweepCheckpoint): Promise<void> {
    if (sweepId.length === 0) throw new ValidationError('migration id must not be empty');
    this.save({ ...this.load(), [sweepId]: { ...checkpoint } });
  }

  public async clear(sweepId: string): Promise<void> {
    const all = this.load();
    if (!(sweepId in all)) return;
    delete all[sweepId];
    this.save(all);
  }

  private load(): Saved {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new BackendError(`cannot read checkpoint file '${this.path}'`, { cause: err, retryable: false });
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      return Object.assign(Object.create(null) as Saved, parsed);
    } catch (err) {
      throw new BackendError(`checkpoint file '${this.path}' is not a checkpoint file (delete it to start over)`, { cause: err, retryable: false });
    }
  }

  private save(all: Saved): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, JSON.stringify(all));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
    } catch (err) {
      throw new BackendError(`cannot write checkpoint file '${this.path}'`, { cause: err });
    }
  }
}
