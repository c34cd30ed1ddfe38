/**
 * sweep a keyring: moves every record of the keyring's old versions to the active version,
 * resumably (checkpointed per batch). Superseded versions (rotating, deprecated) are re-wrapped
 * header only; a revoked version is re-encrypted with fresh data keys, since its key must stop
 * protecting any payload. The CLI's `sweep` runs it; the revocation runs the same Sweeper.
 */
import { NotFoundError } from '../errors';
import type { KeyringService } from '../catalog/keyring-service';
import type { VersionState } from '../catalog/model';
import { sweepIdOf, type CheckpointStore } from '../ports/checkpoint-store';
import type { AuditSink } from '../ports/audit-sink';
import type { Sweeper, SweepMode, SweepOptions, SweepProgress, SweepResult } from '../reencrypt/sweeper';

/** The services the sweep reads. */
export interface SweepKeyringServices {
  readonly keyrings: Pick<KeyringService, 'get'>;
  readonly sweeper: Pick<Sweeper, 'sweep'>;
  readonly checkpoints: CheckpointStore;
  /** Where each sweep's `sweep.completed` event goes (with its counts). */
  readonly audit?: AuditSink;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

/** What {@link sweepKeyring} is asked to do. */
export interface SweepKeyringInput {
  readonly keyring: string;
  /** Only this version. @default every rotating, deprecated or revoked version */
  readonly version?: number;
  /** @default reencrypt for a revoked version, else rewrap */
  readonly mode?: SweepMode;
  /** Rate, concurrency, batch size and the context resolver of the sweeps. */
  readonly tuning?: Omit<SweepOptions, 'mode' | 'checkpoint' | 'onProgress'>;
  /** Progress of the version being swept. */
  readonly onProgress?: (version: number, progress: SweepProgress) => void;
  /** Called once a version's sweep has ended. */
  readonly onSwept?: (result: SweepResult) => void;
  /**
   * Called before a version's sweep starts, with what earlier runs of the same sweep did (from
   * its checkpoint; zero for a fresh sweep), so progress can show totals across resumed runs.
   */
  readonly onStart?: (version: number, mode: SweepMode, earlier: SweepEarlier) => void;
  /**
   * Stops the sweeps: each checks it between records and before every batch, so aborting it
   * right after a batch's progress (the CLI's Ctrl-C) stops at that batch boundary, checkpointed;
   * versions not started yet end at once with `aborted` and their records counted as remaining.
   */
  readonly signal?: AbortSignal;
  /** Who runs the sweep, for the audit event. @default 'sweep' */
  readonly actor?: string;
}

/** What earlier, unfinished runs of a sweep did (its checkpoint's totals). */
export interface SweepEarlier {
  readonly done: number;
  readonly skipped: number;
  readonly failed: number;
}

/**
 * Batch size and concurrency the sweep uses when not told (the CLI's help shows these). Rate:
 * unlimited unless given.
 */
export const SWEEP_DEFAULTS = { batchSize: 100, concurrency: 4 } as const;

/** States whose records a sweep moves off by default. */
const SWEPT: ReadonlySet<VersionState> = new Set(['rotating', 'deprecated', 'revoked']);

/**
 * Sweeps the keyring's old versions (or the one named) and returns one result per version.
 *
 * @example
 * const results = await sweepKeyring({ keyring: 'pii', tuning: { concurrency: 8 } }, { keyrings, sweeper, checkpoints });
 * results.every((r) => r.remaining === 0);
 * @throws NotFoundError when the named version does not exist.
 */
export async function sweepKeyring(input: SweepKeyringInput, services: SweepKeyringServices): Promise<SweepResult[]> {
  const { keyring, version: only } = input;
  const catalog = await services.keyrings.get(keyring);
  const targets = catalog.versions.filter((v) => (only !== undefined ? v.version === only : SWEPT.has(v.state)));
  if (only !== undefined && targets.length === 0) throw new NotFoundError(`keyring '${keyring}' has no version ${only}`);
  const results: SweepResult[] = [];
  for (const v of targets) {
    const mode = input.mode ?? (v.state === 'revoked' ? 'reencrypt' : 'rewrap');
    const onProgress = input.onProgress;
    if (input.onStart !== undefined) {
      const saved = await services.checkpoints.get(sweepIdOf(keyring, v.version, mode));
      const earlier = saved !== undefined && !saved.completed ? { done: saved.done, skipped: saved.skipped, failed: saved.failed } : { done: 0, skipped: 0, failed: 0 };
      input.onStart(v.version, mode, earlier);
    }
    const result = await services.sweeper.sweep(keyring, v.version, {
      batchSize: SWEEP_DEFAULTS.batchSize,
      concurrency: SWEEP_DEFAULTS.concurrency,
      ...(input.tuning ?? {}),
      ...(input.signal === undefined ? {} : { signal: input.signal }),
      mode,
      checkpoint: services.checkpoints,
      ...(onProgress === undefined ? {} : { onProgress: (p: SweepProgress) => onProgress(v.version, p) }),
    });
    input.onSwept?.(result);
    await services.audit?.record({
      at: (services.clock ?? (() => new Date()))().toISOString(),
      actor: input.actor ?? 'sweep',
      action: 'sweep.completed',
      keyring,
      version: v.version,
      details: {
        mode: result.mode,
        done: result.done,
        skipped: result.skipped,
        failed: result.failedCount,
        remaining: result.remaining,
        switchedToReencrypt: result.switchedToReencrypt,
        aborted: result.aborted,
      },
    });
    results.push(result);
  }
  return results;
}
