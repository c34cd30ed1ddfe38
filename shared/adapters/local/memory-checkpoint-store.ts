/**
 * A CheckpointStore held in memory for one invocation. Lambda sweeps need no durable
 * checkpoint: every record write is conditional and a record already moved off the version is
 * no longer found by the scan, so a re-run after a timeout resumes by construction.
 */
import type { CheckpointStore, SweepCheckpoint } from '../../ports/checkpoint-store';

/**
 * Checkpoints in a Map.
 *
 * @example
 * await sweeper.sweep('payments', 3, { mode: 'reencrypt', checkpoint: new MemoryCheckpointStore() });
 */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly saved = new Map<string, SweepCheckpoint>();

  public async get(sweepId: string): Promise<SweepCheckpoint | undefined> {
    return this.saved.get(sweepId);
  }

  public async put(sweepId: string, checkpoint: SweepCheckpoint): Promise<void> {
    this.saved.set(sweepId, { ...checkpoint });
  }

  public async clear(sweepId: string): Promise<void> {
    this.saved.delete(sweepId);
  }
}
