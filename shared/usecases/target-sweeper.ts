/**
 * The sweeper a revocation uses on AWS: for each record target (bucket/prefix) of the keyring,
 * a small target is swept inline by the Sweeper; a large one is handed to the Step Functions
 * Distributed Map (started idempotently), and its records are reported as remaining until the
 * state machine's workers have moved them. The lifecycle disables the version only once no
 * reference remains, so handing off never ends a revocation early.
 */
import type { TargetStore } from '../ports/target-store';
import type { TableTargetRef, TableTargetStore } from '../ports/table-target-store';
import type { SweepStarter } from '../ports/sweep-starter';
import { sweepIdOf, type CheckpointStore, type SweepCheckpoint } from '../ports/checkpoint-store';
import type { EnvelopeOps } from '../reencrypt/dependencies';
import { exposedBy, MAX_REPORTED_COPIES, type CopyPurgeReport } from '../ports/record-store';
import { Sweeper, MAX_REPORTED_FAILURES, type CatalogReader, type SweepFailure, type SweepOptions, type SweepResult, type SweepVersionLookup } from '../reencrypt/sweeper';

/** Dependencies of {@link TargetSweeper}. */
export interface TargetSweeperOptions {
  readonly targets: readonly TargetStore[];
  readonly envelopes: EnvelopeOps;
  readonly versions: SweepVersionLookup;
  /** Fresh catalog reads before each batch (see SweeperOptions.catalog). */
  readonly catalog?: CatalogReader;
  /** Absent: always sweep inline. */
  readonly starter?: SweepStarter;
  /** Targets with more records than this under the version go to the state machine. */
  readonly inlineLimit: number;
  /** DynamoDB table targets, swept like the S3 ones (inline when small, else handed off). @default none */
  readonly tableTargets?: readonly TableTargetStore[];
  /** Starts a table target's segment sweep; absent: table targets are always swept inline. */
  readonly tableStarter?: { startTable(target: TableTargetRef, version: number): Promise<unknown> };
}

/** Checkpoints of one target, kept apart from the other targets' under the same sweep id. */
class PrefixedCheckpoints implements CheckpointStore {
  public constructor(private readonly inner: CheckpointStore, private readonly prefix: string) {}
  public get(id: string): Promise<SweepCheckpoint | undefined> {
    return this.inner.get(`${this.prefix}${id}`);
  }
  public put(id: string, checkpoint: SweepCheckpoint): Promise<void> {
    return this.inner.put(`${this.prefix}${id}`, checkpoint);
  }
  public clear(id: string): Promise<void> {
    return this.inner.clear(`${this.prefix}${id}`);
  }
}

/**
 * Sweeps a version over every record target of its keyring.
 *
 * @example
 * const sweeper = new TargetSweeper({ targets, envelopes, versions: provider, starter, inlineLimit: 1000 });
 * await sweeper.sweep('payments', 3, { mode: 'reencrypt', checkpoint: new MemoryCheckpointStore() });
 */
export class TargetSweeper {
  public constructor(private readonly options: TargetSweeperOptions) {}

  public async sweep(keyring: string, version: number, options: SweepOptions): Promise<SweepResult> {
    const mine = this.options.targets.filter((t) => t.target.keyring === keyring);
    const parts: SweepResult[] = [];
    let handedOff = 0;
    for (const { target, store } of mine) {
      // A re-encryption covers every record whose data key the version may have wrapped.
      const count = options.mode === 'reencrypt'
        ? exposedBy(await store.countByOrigin(keyring), version)
        : ((await store.countByVersion(keyring)).get(version) ?? 0);
      if (this.options.starter !== undefined && count > this.options.inlineLimit) {
        await this.options.starter.start({ keyring, version, bucket: target.bucket, prefix: target.prefix, mode: options.mode });
        handedOff += count;
        continue;
      }
      const sweeper = this.sweeperOf(store);
      const checkpoint = new PrefixedCheckpoints(options.checkpoint, `${target.bucket}/${target.prefix}#`);
      parts.push(await sweeper.sweep(keyring, version, { ...options, checkpoint }));
    }
    for (const { target, store } of (this.options.tableTargets ?? []).filter((t) => t.target.keyring === keyring)) {
      const count = options.mode === 'reencrypt'
        ? exposedBy(await store.countByOrigin(keyring), version)
        : ((await store.countByVersion(keyring)).get(version) ?? 0);
      // The table branch sweeps by origin (reencrypt only): a rewrap is never handed off.
      if (this.options.tableStarter !== undefined && options.mode === 'reencrypt' && count > this.options.inlineLimit) {
        await this.options.tableStarter.startTable(target, version);
        handedOff += count;
        continue;
      }
      const checkpoint = new PrefixedCheckpoints(options.checkpoint, `dynamodb:${target.table}#`);
      parts.push(await this.sweeperOf(store).sweep(keyring, version, { ...options, checkpoint }));
    }
    return merge(keyring, version, options.mode, parts, handedOff);
  }

  /** Records of every target of `keyring` whose data key `version` may have wrapped. */
  public async exposed(keyring: string, version: number): Promise<number> {
    let n = 0;
    for (const { target, store } of this.options.targets) {
      if (target.keyring === keyring) n += exposedBy(await store.countByOrigin(keyring), version);
    }
    for (const { target, store } of this.options.tableTargets ?? []) {
      if (target.keyring === keyring) n += exposedBy(await store.countByOrigin(keyring), version);
    }
    return n;
  }

  /** Purges old copies under `version` in every target of `keyring` that keeps them; undefined when none does. */
  public async purgeExposedCopies(keyring: string, version: number): Promise<CopyPurgeReport | undefined> {
    const reports: CopyPurgeReport[] = [];
    for (const { target, store } of this.options.targets) {
      if (target.keyring !== keyring) continue;
      const report = await this.sweeperOf(store).purgeExposedCopies(keyring, version);
      if (report !== undefined) reports.push({ ...report, remaining: report.remaining.map((c) => ({ ...c, id: `s3://${target.bucket}/${target.prefix}${c.id}` })) });
    }
    if (reports.length === 0) return undefined;
    return {
      deleted: sum(reports, (r) => r.deleted),
      remaining: reports.flatMap((r) => r.remaining).slice(0, MAX_REPORTED_COPIES),
      remainingCount: sum(reports, (r) => r.remainingCount),
    };
  }

  private sweeperOf(store: TargetStore['store']): Sweeper {
    const { envelopes, versions, catalog } = this.options;
    return new Sweeper({ records: store, envelopes, versions, ...(catalog === undefined ? {} : { catalog }) });
  }
}

function merge(keyring: string, version: number, mode: SweepOptions['mode'], parts: readonly SweepResult[], handedOff: number): SweepResult {
  const failed: SweepFailure[] = parts.flatMap((p) => p.failed).slice(0, MAX_REPORTED_FAILURES);
  const toVersion = parts.find((p) => p.toVersion !== undefined)?.toVersion;
  return {
    sweepId: sweepIdOf(keyring, version, mode),
    keyring,
    version,
    mode,
    ...(toVersion === undefined ? {} : { toVersion }),
    done: sum(parts, (p) => p.done),
    skipped: sum(parts, (p) => p.skipped),
    failed,
    failedCount: sum(parts, (p) => p.failedCount),
    remaining: sum(parts, (p) => p.remaining) + handedOff,
    resumed: parts.some((p) => p.resumed),
    alreadyComplete: handedOff === 0 && parts.every((p) => p.alreadyComplete),
    aborted: parts.some((p) => p.aborted),
    switchedToReencrypt: parts.some((p) => p.switchedToReencrypt),
    rateLimiter: { taken: sum(parts, (p) => p.rateLimiter.taken), sleeps: sum(parts, (p) => p.rateLimiter.sleeps) },
  };
}

function sum<T>(items: readonly T[], f: (t: T) => number): number {
  return items.reduce((n, t) => n + f(t), 0);
}
