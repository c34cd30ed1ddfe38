/**
 * CheckpointStore: where a sweep records how far it got, so that a killed sweep resumes from
 * its last completed batch instead of starting over. Holds ids and counts only.
 */

/** What a sweep remembers between runs. */
export interface SweepCheckpoint {
  /** Scan cursor after the last fully processed batch (undefined: from the start). */
  readonly cursor?: string;
  /** True once a pass reached the end of the scan. */
  readonly completed: boolean;
  /** Totals over every run of this sweep. */
  readonly done: number;
  readonly skipped: number;
  readonly failed: number;
  /** ISO-8601 time of the last save. */
  readonly updatedAt: string;
}

/** Port to the checkpoint storage of sweeps, keyed by sweep id (`keyring:version:mode`). */
export interface CheckpointStore {
  /** The checkpoint of a sweep, or undefined when it never saved one (or was cleared). */
  get(sweepId: string): Promise<SweepCheckpoint | undefined>;
  /** Saves (replaces) a sweep's checkpoint durably before resolving. */
  put(sweepId: string, checkpoint: SweepCheckpoint): Promise<void>;
  /** Forgets a sweep's checkpoint (idempotent). */
  clear(sweepId: string): Promise<void>;
}

/** The id under which a sweep of (keyring, version, mode) keeps its checkpoint. */
export function sweepIdOf(keyring: string, version: number, mode: string): string {
  return `${keyring}:${version}:${mode}`;
}
