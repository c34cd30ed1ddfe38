/**
 * Sweeper: the background migration of every record of one key version to the active version.
 *
 * - `rewrap` (routine rotation): header-only re-wrap of each record's data key; payload bytes
 *   are not touched, so a 64 KiB record costs about what a 1 KiB one does.
 * - `reencrypt` (emergency): decrypt with purpose `reencrypt` and encrypt again under a fresh
 *   data key, because a compromised version key exposes every data key it ever wrapped. So a
 *   re-encryption sweep of version N covers every record whose data key was created at or
 *   before N (origin <= N, scanned by the store's origin index), wherever its header points
 *   now: a routine re-wrap moved the envelope on but kept the data key N wrapped.
 *
 * Version states are re-read before every batch (from `catalog`, a fresh read, when given), so a
 * sweep that started before a revocation notices it: a re-wrap sweep of a version revoked
 * meanwhile switches to re-encryption (and rescans by origin, which also covers the records it
 * had already re-wrapped), instead of re-wrapping more exposed data keys or counting failures.
 *
 * Every write is conditional on the revision read, and the new envelope is verified before it
 * replaces the old one, so a concurrent application write is never overwritten and a record is
 * never replaced by something that does not open.
 *
 * Write paths, chosen by what the store and the envelope operations offer: header-only batches
 * (a BatchRecordStore and `rewrapHeader`: payloads are neither read nor written), whole-envelope
 * batches (a BatchRecordStore: one commit per batch), or one conditional put per record. Progress is checkpointed after each batch
 * (keyset cursor), so a killed sweep resumes where it left off; a completed sweep re-run with
 * nothing left under the version does nothing.
 */
import { ConflictError, RekeyError, UnknownVersionError, ValidationError, VersionUnavailableError } from '../errors';
import type { CallerContext, EnvelopeInfo, KeyPurpose } from '../envelope/api';
import type { Catalog, VersionState } from '../catalog/model';
import { exposedBy, isBatchRecordStore, isCopyKeepingRecordStore } from '../ports/record-store';
import type { BatchRecordStore, BatchWriteOutcome, ConditionalWrite, CopyPurgeReport, RecordRef, RecordStore, StoredRecord } from '../ports/record-store';
import { runBounded } from './bounded';
import type { CheckpointStore, SweepCheckpoint } from '../ports/checkpoint-store';
import { sweepIdOf } from '../ports/checkpoint-store';
import { noMetrics, recordContext } from './dependencies';
import type { EnvelopeOps, ReencryptMetrics, VersionLookup } from './dependencies';
import { authenticatedHeaderLength, hasHeaderRewrap } from './header-rewrap';
import type { HeaderEnvelopeOps } from './header-rewrap';
import { systemClock, systemSleep, TokenBucket } from './rate-limiter';
import type { Clock, Sleep } from './rate-limiter';

/** How a sweep migrates a record. */
export type SweepMode = 'rewrap' | 'reencrypt';

/** Why one record could not be migrated (a code, never a message with data in it). */
export type SweepFailureReason =
  | 'decrypt-failed'
  | 'context-required'
  | 'context-mismatch'
  | 'version-revoked'
  | 'version-unavailable'
  | 'key-unavailable'
  | 'throttled'
  | 'verification-failed'
  | 'backend';

/** One record the sweep could not migrate; it stays under the old version. */
export interface SweepFailure {
  readonly id: string;
  readonly reason: SweepFailureReason;
}

/** Progress after each batch. */
export interface SweepProgress {
  readonly sweepId: string;
  readonly done: number;
  readonly skipped: number;
  readonly failed: number;
  /** Records under the version when this run started. */
  readonly total: number;
}

/** How a rewrap sweep checks a new envelope before writing it. */
export type RewrapVerification = 'header' | 'full';

/** Options of {@link Sweeper.sweep}. */
export interface SweepOptions {
  readonly mode: SweepMode;
  /** Where progress is saved after every batch. */
  readonly checkpoint: CheckpointStore;
  /** Records per scan page (and per checkpoint). @default 100 */
  readonly batchSize?: number;
  /** Records migrated at the same time. @default 4 */
  readonly concurrency?: number;
  /** Records per second at most (token bucket). @default unlimited */
  readonly ratePerSecond?: number;
  /** Stops the sweep between records; the current batch is not checkpointed. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: SweepProgress) => void;
  /**
   * `header` (default): the re-wrapped header is parsed, checked to name the target version,
   * re-opened under the target version key, and the payload bytes checked unchanged; `full`:
   * the new envelope is decrypted (needs the caller context). `reencrypt` always decrypts.
   */
  readonly verify?: RewrapVerification;
  /**
   * The caller context a record's envelope is bound to, for decrypting. @default the context
   * stored in the envelope if any, else the record id binding that RecordService applies.
   */
  readonly contextFor?: (record: StoredRecord, info: EnvelopeInfo) => CallerContext | undefined;
}

/** What a sweep run did. */
export interface SweepResult {
  readonly sweepId: string;
  readonly keyring: string;
  readonly version: number;
  readonly mode: SweepMode;
  /** The active version records were moved to (at the start of the run). */
  readonly toVersion?: number;
  /** Migrated by this run. */
  readonly done: number;
  /** Changed concurrently (a newer write won the conditional write, or the record already moved). */
  readonly skipped: number;
  /** Could not be migrated, with reasons (at most {@link MAX_REPORTED_FAILURES} listed). */
  readonly failed: readonly SweepFailure[];
  readonly failedCount: number;
  /** Records still under the version, counted by a final scan. */
  readonly remaining: number;
  /** True when this run continued from a checkpoint. */
  readonly resumed: boolean;
  /** True when a previous run had finished and nothing was left: nothing was done. */
  readonly alreadyComplete: boolean;
  /** True when the signal stopped the run before the end of the scan. */
  readonly aborted: boolean;
  /**
   * True when a `rewrap` run found the version revoked before a batch and carried on as a
   * `reencrypt` run (`mode` is then `reencrypt`).
   */
  readonly switchedToReencrypt: boolean;
  /** Tokens taken and sleeps of the rate limiter (zero without a rate). */
  readonly rateLimiter: { readonly taken: number; readonly sleeps: number };
}

/** An uncached read of a keyring's catalog (KeyringService.get). */
export interface CatalogReader {
  get(keyring: string): Promise<Catalog>;
}

/** Version lookups, with the provider's cache invalidation when it has one (CatalogKeyProvider). */
export type SweepVersionLookup = VersionLookup & { invalidate?(keyring?: string): void | Promise<void> };

/** Dependencies of {@link Sweeper}. */
export interface SweeperOptions {
  readonly records: RecordStore;
  readonly envelopes: EnvelopeOps;
  readonly versions: SweepVersionLookup;
  /**
   * Fresh catalog reads for the state check before each batch. Without it the check asks
   * `versions`, whose catalog may be as old as its cache lifetime. When the fresh read shows a
   * newer catalog than the run began with, `versions.invalidate` makes the provider (the
   * encryption target, the revoked-source refusal) see it too.
   */
  readonly catalog?: CatalogReader;
  readonly metrics?: ReencryptMetrics;
  /** Clock and sleep of the rate limiter (tests inject a virtual pair). */
  readonly clock?: Clock;
  readonly sleep?: Sleep;
}

/** Most failures listed in a result (the count is always exact). */
export const MAX_REPORTED_FAILURES = 1000;

/**
 * Most passes of one re-encryption run. A record a concurrent writer changed under the sweep
 * (a conflict: skipped) may still hold a data key the version wrapped, as a lazy re-wrap keeps
 * the data key; a pass that met such conflicts is followed by another, until a pass meets none.
 */
export const MAX_REENCRYPT_PASSES = 8;

type Outcome = { kind: 'done' } | { kind: 'skipped' } | { kind: 'failed'; reason: SweepFailureReason } | { kind: 'aborted' };

interface EnvelopeWrite {
  readonly id: string;
  readonly keyring: string;
  readonly version: number;
  readonly envelope: Buffer;
}

interface HeaderWrite {
  readonly id: string;
  readonly keyring: string;
  readonly version: number;
  readonly header: Buffer;
}

/** A record read and migrated in memory, waiting for its conditional write. */
type Prepared<W> = { kind: 'write'; write: ConditionalWrite<W> } | Outcome;

interface RunContext {
  readonly sweepId: string;
  readonly keyring: string;
  readonly version: number;
  readonly toVersion: number;
  readonly mode: SweepMode;
  readonly purpose: KeyPurpose;
  readonly verify: RewrapVerification;
  readonly limiter?: TokenBucket;
  readonly signal?: AbortSignal;
  readonly contextFor: (record: StoredRecord, info: EnvelopeInfo) => CallerContext | undefined;
}

const FAILURE_BY_CODE: Readonly<Partial<Record<string, SweepFailureReason>>> = {
  DECRYPT_FAILED: 'decrypt-failed',
  CONTEXT_REQUIRED: 'context-required',
  CONTEXT_MISMATCH: 'context-mismatch',
  VERSION_REVOKED: 'version-revoked',
  VERSION_UNAVAILABLE: 'version-unavailable',
  UNKNOWN_VERSION: 'version-unavailable',
  KEY_UNAVAILABLE: 'key-unavailable',
  ACCESS_DENIED: 'key-unavailable',
  THROTTLED: 'throttled',
  BACKEND: 'backend',
};

class VerificationError extends RekeyError {
  public override readonly name: string = 'VerificationError';
  public constructor() {
    super('DECRYPT_FAILED', 'the migrated envelope failed verification');
  }
}

function defaultContextFor(record: StoredRecord, info: EnvelopeInfo): CallerContext | undefined {
  if (info.storedContext !== undefined) return info.storedContext;
  return info.contextBound ? recordContext(record.id) : undefined;
}

function intOption(value: number | undefined, fallback: number, min: number, max: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new ValidationError(`${name} must be an integer between ${min} and ${max}`);
  return v;
}

/**
 * Migrates every record of one key version, resumably.
 *
 * @example
 * const sweeper = new Sweeper({ records, envelopes, versions: provider });
 * const result = await sweeper.sweep('pii', 1, { mode: 'rewrap', checkpoint, ratePerSecond: 500 });
 * console.log(result.done, result.skipped, result.failedCount, result.remaining);
 */
export class Sweeper {
  private readonly records: RecordStore;
  private readonly envelopes: EnvelopeOps;
  private readonly versions: SweepVersionLookup;
  private readonly catalog: CatalogReader | undefined;
  private readonly metrics: ReencryptMetrics;
  private readonly clock: Clock;
  private readonly sleep: Sleep;

  public constructor(options: SweeperOptions) {
    this.records = options.records;
    this.envelopes = options.envelopes;
    this.versions = options.versions;
    this.catalog = options.catalog;
    this.metrics = options.metrics ?? noMetrics;
    this.clock = options.clock ?? systemClock;
    this.sleep = options.sleep ?? systemSleep;
  }

  /**
   * Sweeps `version` of `keyring`: in `rewrap` mode the records under it, in `reencrypt` mode
   * every record whose data key was created at or before it. Throws ValidationError on bad
   * options, a `rewrap` of a revoked version or a sweep of the active version;
   * UnknownVersionError for an unknown version; VersionUnavailableError when records remain
   * under a disabled or destroyed version (their key is needed to read them). Per-record
   * failures are counted, not thrown.
   */
  public async sweep(keyring: string, version: number, options: SweepOptions): Promise<SweepResult> {
    if (options.mode !== 'rewrap' && options.mode !== 'reencrypt') throw new ValidationError("mode must be 'rewrap' or 'reencrypt'");
    if (!Number.isSafeInteger(version) || version < 1) throw new ValidationError('version must be a positive integer');
    const batchSize = intOption(options.batchSize, 100, 1, 10_000, 'batchSize');
    const concurrency = intOption(options.concurrency, 4, 1, 256, 'concurrency');
    const verify = options.verify ?? 'header';
    if (verify !== 'header' && verify !== 'full') throw new ValidationError("verify must be 'header' or 'full'");
    const limiter = options.ratePerSecond === undefined
      ? undefined
      : new TokenBucket({ ratePerSecond: options.ratePerSecond, clock: this.clock, sleep: this.sleep });

    const fresh = await this.freshState(keyring, version, undefined);
    const state = fresh.state;
    if (state === undefined) throw new UnknownVersionError(keyring, version);
    if (state === 'revoked' && options.mode === 'rewrap') {
      throw new ValidationError(`version ${version} of '${keyring}' is revoked: sweep it in 'reencrypt' mode (its data keys may be exposed)`);
    }
    const sweepId = sweepIdOf(keyring, version, options.mode);
    const total = await this.remainingFor(keyring, version, options.mode);
    const base = { sweepId, keyring, version, mode: options.mode, failed: [], failedCount: 0, rateLimiter: { taken: 0, sleeps: 0 }, switchedToReencrypt: false };
    if (state === 'disabled' || state === 'destroyed') {
      // Records still under the version need its key to be read at all; records re-wrapped
      // onward (origin <= version, under a later version now) can still be re-encrypted.
      const under = options.mode === 'rewrap' ? total : ((await this.records.countByVersion(keyring)).get(version) ?? 0);
      if (under > 0) throw new VersionUnavailableError(keyring, version, state);
      if (total === 0 || options.mode === 'rewrap') return { ...base, done: 0, skipped: 0, remaining: 0, resumed: false, alreadyComplete: true, aborted: false };
    }
    const saved = await options.checkpoint.get(sweepId);
    if (saved?.completed === true && total === 0) {
      return { ...base, done: 0, skipped: 0, remaining: 0, resumed: false, alreadyComplete: true, aborted: false };
    }
    const toVersion = (await this.versions.forEncrypt(keyring)).version;
    if (toVersion === version) throw new ValidationError(`version ${version} of '${keyring}' is the active version; there is nothing to sweep it to`);

    let run: RunContext = {
      sweepId,
      keyring,
      version,
      toVersion,
      mode: options.mode,
      purpose: options.mode === 'reencrypt' ? 'reencrypt' : 'read',
      verify,
      ...(limiter === undefined ? {} : { limiter }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      contextFor: options.contextFor ?? defaultContextFor,
    };
    // A completed pass that left records behind (failures, restored data) starts a fresh pass.
    const resumed = saved !== undefined && !saved.completed;
    let cursor = resumed ? saved.cursor : undefined;
    let totals = { done: resumed ? saved.done : 0, skipped: resumed ? saved.skipped : 0, failed: resumed ? saved.failed : 0 };
    const counts = { done: 0, skipped: 0 };
    const failed: SweepFailure[] = [];
    let failedCount = 0;
    let aborted = false;
    let switched = false;
    let generation = fresh.generation;
    let passes = 1;
    let passSkipped = 0;

    for (;;) {
      if (options.signal?.aborted) {
        aborted = true;
        break;
      }
      // The state before each batch, not as it was when the run began: a revocation since then
      // turns this run into a re-encryption, a disable ends it.
      const now = await this.freshState(keyring, version, generation);
      generation = now.generation;
      if (now.toVersion !== undefined && now.toVersion !== run.toVersion) run = { ...run, toVersion: now.toVersion };
      if (now.state === 'revoked' && run.mode === 'rewrap') {
        run = { ...run, mode: 'reencrypt', purpose: 'reencrypt', sweepId: sweepIdOf(keyring, version, 'reencrypt') };
        switched = true;
        // The origin scan is a superset of what this run already re-wrapped: start it over.
        cursor = undefined;
        totals = { done: 0, skipped: 0, failed: 0 };
        this.metrics.increment('sweep.switchedToReencrypt');
      } else if (now.state === undefined || (run.mode === 'rewrap' && (now.state === 'disabled' || now.state === 'destroyed'))) {
        break;
      }
      const scanOptions = { limit: batchSize, ...(cursor === undefined ? {} : { cursor }) };
      const page = run.mode === 'reencrypt'
        ? await this.records.scanByOrigin(keyring, version, scanOptions)
        : await this.records.scanByVersion(keyring, version, scanOptions);
      const outcomes = await this.migrateBatch(page.items, concurrency, run);
      for (const [i, outcome] of outcomes.entries()) {
        if (outcome.kind === 'done') counts.done += 1;
        else if (outcome.kind === 'skipped') {
          counts.skipped += 1;
          passSkipped += 1;
        }
        else if (outcome.kind === 'failed') {
          failedCount += 1;
          if (failed.length < MAX_REPORTED_FAILURES) failed.push({ id: (page.items[i] as RecordRef).id, reason: outcome.reason });
        } else aborted = true;
      }
      this.metrics.increment('sweep.done', outcomes.filter((o) => o.kind === 'done').length);
      if (aborted) break;
      const checkpoint: SweepCheckpoint = {
        ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
        completed: page.cursor === undefined,
        done: totals.done + counts.done,
        skipped: totals.skipped + counts.skipped,
        failed: totals.failed + failedCount,
        updatedAt: new Date().toISOString(),
      };
      await options.checkpoint.put(run.sweepId, checkpoint);
      options.onProgress?.({ sweepId: run.sweepId, done: counts.done, skipped: counts.skipped, failed: failedCount, total });
      if (page.cursor === undefined) {
        if (run.mode !== 'reencrypt' || passSkipped === 0 || passes >= MAX_REENCRYPT_PASSES) break;
        // Records skipped for a conflict may still be exposed: another pass, from the start.
        passes += 1;
        passSkipped = 0;
        cursor = undefined;
        continue;
      }
      cursor = page.cursor;
    }

    const remaining = await this.remainingFor(keyring, version, run.mode);
    this.metrics.increment('sweep.skipped', counts.skipped);
    this.metrics.increment('sweep.failed', failedCount);
    return {
      ...base,
      sweepId: run.sweepId,
      mode: run.mode,
      toVersion: run.toVersion,
      done: counts.done,
      skipped: counts.skipped,
      failed,
      failedCount,
      remaining,
      resumed,
      alreadyComplete: false,
      aborted,
      switchedToReencrypt: switched,
      rateLimiter: limiter?.stats() ?? { taken: 0, sleeps: 0 },
    };
  }

  /**
   * Records whose data key `version` of `keyring` may have wrapped (origin <= version),
   * whatever version wraps them now: what a revocation of it must re-encrypt.
   *
   * @example
   * await sweeper.exposed('pii', 1); // 0 once every such record has a fresh data key
   */
  public async exposed(keyring: string, version: number): Promise<number> {
    return exposedBy(await this.records.countByOrigin(keyring), version);
  }

  /**
   * Deletes old copies (noncurrent object versions) under `version` once their record is
   * re-encrypted, when the store keeps such copies; undefined when it keeps none.
   */
  public async purgeExposedCopies(keyring: string, version: number): Promise<CopyPurgeReport | undefined> {
    return isCopyKeepingRecordStore(this.records) ? this.records.purgeExposedCopies(keyring, version) : undefined;
  }

  private async remainingFor(keyring: string, version: number, mode: SweepMode): Promise<number> {
    if (mode === 'reencrypt') return this.exposed(keyring, version);
    return (await this.records.countByVersion(keyring)).get(version) ?? 0;
  }

  /**
   * The version's state now, and the active version when a fresh catalog read shows one: from
   * `catalog` when given (and the provider told to forget its copy when the catalog moved on
   * since `seen`), else from the provider.
   */
  private async freshState(keyring: string, version: number, seen: number | undefined): Promise<{ state: VersionState | undefined; generation?: number; toVersion?: number }> {
    if (this.catalog === undefined) return { state: await this.versions.versionState(keyring, version) };
    const catalog = await this.catalog.get(keyring);
    if (seen !== undefined && catalog.generation !== seen) await this.versions.invalidate?.(keyring);
    const active = catalog.versions.find((v) => v.state === 'active')?.version;
    return {
      state: catalog.versions.find((v) => v.version === version)?.state,
      generation: catalog.generation,
      ...(active === undefined ? {} : { toVersion: active }),
    };
  }

  // Three paths, by what the store and envelope layer offer. Header-only (store keeps headers
  // apart, envelope layer re-wraps detached headers): the payload is never read or written.
  // Batched: whole envelopes, one commit per batch. Per record: any RecordStore.
  private async migrateBatch(refs: readonly RecordRef[], concurrency: number, run: RunContext): Promise<Outcome[]> {
    const store = this.records;
    const batch = isBatchRecordStore(store) ? store : undefined;
    if (batch !== undefined && run.mode === 'rewrap' && run.verify === 'header' && hasHeaderRewrap(this.envelopes)) {
      const envelopes = this.envelopes;
      const prepared = await runBounded(refs, concurrency, (ref) => this.prepareHeader(batch, envelopes, ref, run));
      return this.commit(prepared, (writes) => batch.putHeaders(writes));
    }
    if (batch !== undefined) {
      const prepared = await runBounded(refs, concurrency, (ref) => this.prepareEnvelope(ref, run));
      return this.commit(prepared, (writes) => batch.putBatch(writes));
    }
    return runBounded(refs, concurrency, async (ref) => {
      const prepared = await this.prepareEnvelope(ref, run);
      if (prepared.kind !== 'write') return prepared;
      try {
        await store.put(prepared.write.write, prepared.write.expectedRevision);
        return { kind: 'done' };
      } catch (err) {
        if (err instanceof ConflictError) return { kind: 'skipped' };
        return this.failure(err);
      }
    });
  }

  private async commit<W>(prepared: readonly Prepared<W>[], write: (writes: ConditionalWrite<W>[]) => Promise<BatchWriteOutcome[]>): Promise<Outcome[]> {
    const writes: ConditionalWrite<W>[] = [];
    for (const p of prepared) if (p.kind === 'write') writes.push(p.write);
    let results: BatchWriteOutcome[] = [];
    if (writes.length > 0) {
      try {
        results = await write(writes);
      } catch (err) {
        const failed = this.failure(err);
        return prepared.map((p) => (p.kind === 'write' ? failed : p));
      }
    }
    let i = 0;
    return prepared.map((p) => {
      if (p.kind !== 'write') return p;
      const r = results[i];
      i += 1;
      return r?.ok === true ? { kind: 'done' } : { kind: 'skipped' };
    });
  }

  private async admit(run: RunContext): Promise<boolean> {
    if (run.signal?.aborted) return false;
    if (run.limiter === undefined) return true;
    try {
      await run.limiter.take(run.signal);
      return true;
    } catch (err) {
      if (run.signal?.aborted) return false;
      throw err;
    }
  }

  private async prepareEnvelope(ref: RecordRef, run: RunContext): Promise<Prepared<EnvelopeWrite>> {
    if (!(await this.admit(run))) return { kind: 'aborted' };
    const record = await this.records.get(ref.id);
    if (record === undefined || record.keyring !== run.keyring) return { kind: 'skipped' };
    // Moved on since the scan: a re-wrap target is off the version, a re-encryption target has
    // a data key made after it.
    if (run.mode === 'rewrap' ? record.version !== run.version : record.originVersion > run.version) return { kind: 'skipped' };
    try {
      const envelope = run.mode === 'rewrap' ? await this.rewrapped(record, run) : await this.reencrypted(record, run);
      const version = this.envelopes.inspect(envelope).version;
      return { kind: 'write', write: { write: { id: record.id, keyring: record.keyring, version, envelope }, expectedRevision: record.revision } };
    } catch (err) {
      return this.failure(err);
    }
  }

  private async prepareHeader(store: BatchRecordStore, envelopes: HeaderEnvelopeOps, ref: RecordRef, run: RunContext): Promise<Prepared<HeaderWrite>> {
    if (!(await this.admit(run))) return { kind: 'aborted' };
    const stored = await store.getHeader(ref.id);
    if (stored === undefined || stored.keyring !== run.keyring || stored.version !== run.version) return { kind: 'skipped' };
    try {
      // No toVersion: the envelope layer re-wraps only to the version active now (which may be
      // newer than at the start of the run) and refuses a source version revoked since.
      const next = await envelopes.rewrapHeader(stored.header, { purpose: run.purpose });
      // Verification without the payload: same length, the authenticated part byte-identical
      // (so the payload's AAD and key commitment are unchanged), a newer version, and the new key
      // slot opens under that version's key with the commitment matching (a second re-wrap of
      // the new header does exactly that; its result is discarded). The payload then decrypts
      // wherever it did before, as its key and AAD are the same.
      const ah = authenticatedHeaderLength(stored.header.length);
      if (
        next.header.length !== stored.header.length ||
        next.version === run.version ||
        next.version < run.toVersion ||
        !next.header.subarray(0, ah).equals(stored.header.subarray(0, ah))
      ) {
        throw new VerificationError();
      }
      await envelopes.rewrapHeader(next.header, { purpose: 'read' }).catch((err: unknown) => {
        throw err instanceof RekeyError ? new VerificationError() : err;
      });
      return { kind: 'write', write: { write: { id: stored.id, keyring: stored.keyring, version: next.version, header: next.header }, expectedRevision: stored.revision } };
    } catch (err) {
      return this.failure(err);
    }
  }

  // Only typed errors are per-record failures; anything else (a crash, a bug) stops the sweep,
  // which then resumes from its last checkpoint.
  private failure(err: unknown): Exclude<Outcome, { kind: 'done' }> {
    if (!(err instanceof RekeyError)) throw err;
    if (err instanceof VerificationError) return { kind: 'failed', reason: 'verification-failed' };
    return { kind: 'failed', reason: FAILURE_BY_CODE[err.code] ?? 'backend' };
  }

  private checkTarget(before: EnvelopeInfo, after: EnvelopeInfo, run: RunContext): void {
    if (after.keyring !== run.keyring || after.version === run.version || after.version < run.toVersion || after.contextBound !== before.contextBound) {
      throw new VerificationError();
    }
    // A re-encryption must leave a data key the swept version never wrapped.
    if (run.mode === 'reencrypt' && after.originVersion <= run.version) throw new VerificationError();
  }

  // Re-wrap of a whole envelope, for stores that do not keep headers apart.
  private async rewrapped(record: StoredRecord, run: RunContext): Promise<Buffer> {
    const before = this.envelopes.inspect(record.envelope);
    const next = await this.envelopes.rewrap(record.envelope, { purpose: run.purpose });
    const after = this.envelopes.inspect(next);
    this.checkTarget(before, after, run);
    if (run.verify === 'full') {
      const context = run.contextFor(record, before);
      const opened = await this.envelopes.decrypt(next, { ...(context === undefined ? {} : { context }), purpose: 'read' });
      opened.plaintext.fill(0);
      return next;
    }
    // Header verification: the payload bytes must be exactly the old ones (a re-wrap touches
    // only the header), and the new header must open under the target version key; re-wrapping
    // it again unwraps its data key under that key and checks the key commitment. Together they
    // imply the new envelope decrypts wherever the old one did, without reading the payload
    // through AES-GCM or needing the caller's context.
    const oldBody = record.envelope.subarray(before.headerLength);
    const newBody = next.subarray(after.headerLength);
    if (!oldBody.equals(newBody)) throw new VerificationError();
    await this.envelopes.rewrap(next, { purpose: 'read' }).catch((err: unknown) => {
      throw err instanceof RekeyError ? new VerificationError() : err;
    });
    return next;
  }

  private async reencrypted(record: StoredRecord, run: RunContext): Promise<Buffer> {
    const before = this.envelopes.inspect(record.envelope);
    const context = run.contextFor(record, before);
    const ctx = context === undefined ? {} : { context };
    const opened = await this.envelopes.decrypt(record.envelope, { ...ctx, purpose: 'reencrypt' });
    try {
      const next = await this.envelopes.encrypt(run.keyring, opened.plaintext, { ...ctx, ...(before.storedContext === undefined ? {} : { storeContext: true }) });
      this.checkTarget(before, this.envelopes.inspect(next), run);
      const check = await this.envelopes.decrypt(next, { ...ctx, purpose: 'read' });
      const same = check.plaintext.equals(opened.plaintext);
      check.plaintext.fill(0);
      if (!same) throw new VerificationError();
      return next;
    } finally {
      opened.plaintext.fill(0);
    }
  }
}
