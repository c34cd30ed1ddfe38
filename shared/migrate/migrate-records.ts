/**
 * The migration sweep: takes records that exist before rekey (plaintext, or AWS Encryption SDK
 * messages the caller can decrypt) into rekey envelopes in place, with the safety of the
 * re-encryption sweep:
 *
 * - every record is classified from its bytes first; one that is already a rekey envelope, or is
 *   not of the source format, or starts like a ciphertext without parsing as one, is counted and
 *   left alone (a plaintext migration never guesses at another tool's format, so nothing is ever
 *   wrapped twice);
 * - the new envelope binds the record id (as RecordService does, so the record reads back through
 *   it) and is decrypted again and compared with the plaintext, in constant time, before it is
 *   written: a record that does not verify is never written;
 * - the write is conditional on the revision read, so a concurrent writer wins (counted as a
 *   conflict; the next run reads the record again);
 * - progress is checkpointed after every batch (the listing cursor), so a run killed halfway
 *   resumes after its last completed batch; records of an unfinished batch that were already
 *   written are recognized as rekey envelopes and skipped. A run that starts after a completed
 *   pass makes a new pass from the start, which also picks up records lost to conflicts.
 *
 * Plaintext and decrypted bytes stay in this process's memory and are zeroed after use; reports,
 * progress and errors carry ids, counts and reason codes only.
 */
import { timingSafeEqual } from 'node:crypto';
import type { CallerContext } from '../envelope/api';
import { ConflictError, RekeyError, ValidationError } from '../errors';
import type { CheckpointStore, SweepCheckpoint } from '../ports/checkpoint-store';
import { runBounded } from '../reencrypt/bounded';
import { recordContext } from '../reencrypt/dependencies';
import { systemClock, systemSleep, TokenBucket } from '../reencrypt/rate-limiter';
import type { Clock, Sleep } from '../reencrypt/rate-limiter';
import { classifyRecord } from './classify';
import type { RecordKind } from './classify';
import type { MigrationEnvelopes, MigrationStore, RawRecord, SourceDecryptor } from './migration-ports';

/** What a migration takes into rekey envelopes. */
export type MigrationSource = 'plaintext' | 'esdk';

/** Why one record of the source format was not migrated (a code, never data). */
export type MigrationFailureReason =
  /** The source decryptor could not open the message. */
  | 'source-decrypt-failed'
  /** The message's encryption context is not the one required. */
  | 'source-context-mismatch'
  /** The new envelope did not decrypt back to the same bytes: nothing was written. */
  | 'verification-failed'
  /** The record is larger than a record can be, or its id is not one the store accepts. */
  | 'invalid-record'
  /** The keyring cannot encrypt (unknown, no active version, key unavailable). */
  | 'key-unavailable'
  | 'throttled'
  | 'backend';

/** One record that could not be migrated; it is left as it was. */
export interface MigrationFailure {
  readonly id: string;
  readonly reason: MigrationFailureReason;
}

/** Records seen by kind (a dry run counts only these). */
export interface MigrationCounts {
  readonly plaintext: number;
  readonly esdk: number;
  /** Already rekey envelopes (of any keyring): skipped. */
  readonly rekey: number;
  /** Start like a rekey envelope or an ESDK message but parse as neither: skipped. */
  readonly undecidable: number;
}

/** Progress after each batch (this run's numbers). */
export interface MigrationProgress {
  readonly migrationId: string;
  readonly listed: number;
  readonly migrated: number;
  readonly conflicts: number;
  readonly failed: number;
}

/** Options of {@link migrateRecords}. */
export interface MigrateRecordsOptions {
  /** The keyring whose active version seals the migrated records. */
  readonly keyring: string;
  /** Which records to take: `plaintext`, or `esdk` (needs `decryptor`). */
  readonly from: MigrationSource;
  readonly store: MigrationStore;
  readonly envelopes: MigrationEnvelopes;
  /** Opens ESDK messages (`createEsdkDecryptor`); required with `from: 'esdk'` unless `dryRun`. */
  readonly decryptor?: SourceDecryptor;
  /** Where progress is saved after every batch. @default none: a rerun starts from the beginning (still safe, only slower) */
  readonly checkpoint?: CheckpointStore;
  /** Checkpoint key. @default `migrate:<keyring>:<from>:<store.label>` */
  readonly migrationId?: string;
  /** Extra caller context bound into every envelope (the record id is always bound, as RecordService binds it). */
  readonly context?: CallerContext;
  /** Store the context in clear in the header (so an emergency re-encryption can supply it). @default false */
  readonly storeContext?: boolean;
  /** Only read and classify; write nothing, save no checkpoint. @default false */
  readonly dryRun?: boolean;
  /** Ignore a saved checkpoint and start from the beginning. @default false */
  readonly restart?: boolean;
  /** Records per listing page (and per checkpoint). @default 100 */
  readonly batchSize?: number;
  /** Records migrated at the same time. @default 4 */
  readonly concurrency?: number;
  /** Records per second at most (the sweep's token bucket). @default unlimited */
  readonly ratePerSecond?: number;
  /** Stops the run between records; the current batch is not checkpointed. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: MigrationProgress) => void;
  /** Clock and sleep of the rate limiter (tests inject a virtual pair). */
  readonly clock?: Clock;
  readonly sleep?: Sleep;
}

/** What a migration run did. */
export interface MigrationReport {
  readonly migrationId: string;
  readonly keyring: string;
  readonly from: MigrationSource;
  readonly store: string;
  readonly dryRun: boolean;
  /** Records listed by this run. */
  readonly listed: number;
  /** Of them, by kind as read. */
  readonly seen: MigrationCounts;
  /** Written as rekey envelopes by this run (0 in a dry run). */
  readonly migrated: number;
  /** Changed or deleted by someone else between read and write (left to them; the next run reads them again). */
  readonly conflicts: number;
  /** At most {@link MAX_REPORTED_MIGRATION_FAILURES} listed; the count is exact. */
  readonly failed: readonly MigrationFailure[];
  readonly failedCount: number;
  /** True when this run continued from an unfinished run's checkpoint. */
  readonly resumed: boolean;
  /** True when this run reached the end of the listing. */
  readonly completed: boolean;
  /** True when the signal stopped the run. */
  readonly aborted: boolean;
  readonly rateLimiter: { readonly taken: number; readonly sleeps: number };
}

/** Most failures listed in a report. */
export const MAX_REPORTED_MIGRATION_FAILURES = 1000;

type Outcome =
  | { kind: 'migrated' }
  | { kind: 'conflict' }
  | { kind: 'seen'; as: RecordKind }
  | { kind: 'failed'; reason: MigrationFailureReason }
  | { kind: 'aborted' };

/** A record's outcome plus the kind it was read as (undefined when it was gone). */
type Handled = { readonly as?: RecordKind; readonly outcome: Outcome };

const REASON_BY_CODE: Readonly<Partial<Record<string, MigrationFailureReason>>> = {
  UNKNOWN_KEYRING: 'key-unavailable',
  UNKNOWN_VERSION: 'key-unavailable',
  VERSION_REVOKED: 'key-unavailable',
  VERSION_UNAVAILABLE: 'key-unavailable',
  KEY_UNAVAILABLE: 'key-unavailable',
  ACCESS_DENIED: 'key-unavailable',
  THROTTLED: 'throttled',
  VALIDATION: 'invalid-record',
  LIMIT_EXCEEDED: 'invalid-record',
  BACKEND: 'backend',
};

function intOption(value: number | undefined, fallback: number, min: number, max: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new ValidationError(`${name} must be an integer between ${min} and ${max}`);
  return v;
}

/** Constant-time equality of two buffers (lengths are not secret: a migrated record keeps its size). */
function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Migrates the records of `store` into rekey envelopes of `keyring`, in place. Throws
 * ValidationError for bad options; per-record problems are counted in the report, and anything
 * that is not a RekeyError (a crash, a bug) stops the run, which then resumes from its last
 * checkpoint.
 *
 * @example
 * const store = new S3MigrationStore({ bucket: 'orders-data', prefix: 'orders/' });
 * const report = await migrateRecords({ keyring: 'orders', from: 'plaintext', store, envelopes: rekey, checkpoint });
 * console.log(report.migrated, report.seen.rekey, report.conflicts, report.failedCount);
 */
export async function migrateRecords(options: MigrateRecordsOptions): Promise<MigrationReport> {
  if (options.from !== 'plaintext' && options.from !== 'esdk') throw new ValidationError("from must be 'plaintext' or 'esdk'");
  if (typeof options.keyring !== 'string' || options.keyring.length === 0) throw new ValidationError('keyring is required');
  // A dry run reads headers only; a real esdk run must open the messages.
  if (options.from === 'esdk' && options.dryRun !== true && options.decryptor === undefined) {
    throw new ValidationError('an esdk migration needs a decryptor (createEsdkDecryptor)');
  }
  const batchSize = intOption(options.batchSize, 100, 1, 10_000, 'batchSize');
  const concurrency = intOption(options.concurrency, 4, 1, 256, 'concurrency');
  const limiter = options.ratePerSecond === undefined
    ? undefined
    : new TokenBucket({ ratePerSecond: options.ratePerSecond, clock: options.clock ?? systemClock, sleep: options.sleep ?? systemSleep });
  const dryRun = options.dryRun === true;
  const migrationId = options.migrationId ?? `migrate:${options.keyring}:${options.from}:${options.store.label}`;
  // A dry run neither reads nor writes the checkpoint: it counts the whole store.
  const saved = dryRun || options.restart === true ? undefined : await options.checkpoint?.get(migrationId);
  const resumed = saved !== undefined && !saved.completed && saved.cursor !== undefined;
  let cursor = resumed ? saved.cursor : undefined;
  const totals = saved === undefined || saved.completed ? { done: 0, skipped: 0, failed: 0 } : { done: saved.done, skipped: saved.skipped, failed: saved.failed };

  const seen = { plaintext: 0, esdk: 0, rekey: 0, undecidable: 0 };
  const failed: MigrationFailure[] = [];
  let failedCount = 0;
  let listed = 0;
  let migrated = 0;
  let conflicts = 0;
  let aborted = false;
  let completed = false;

  const admit = async (): Promise<boolean> => {
    if (options.signal?.aborted) return false;
    if (limiter === undefined) return true;
    try {
      await limiter.take(options.signal);
      return true;
    } catch (err) {
      if (options.signal?.aborted) return false;
      throw err;
    }
  };

  const handle = async (id: string): Promise<Handled> => {
    if (!(await admit())) return { outcome: { kind: 'aborted' } };
    let raw;
    try {
      raw = await options.store.read(id);
    } catch (err) {
      // A typed read failure (the store refused or could not serve this record) fails it alone.
      return { outcome: failure(err, 'backend') };
    }
    // Gone between the listing and the read: someone else's delete.
    if (raw === undefined) return { outcome: { kind: 'conflict' } };
    const as = classifyRecord(raw.bytes);
    if (as !== options.from || dryRun) {
      if (dryRun || as === 'plaintext') raw.bytes.fill(0);
      return { as, outcome: { kind: 'seen', as } };
    }
    return { as, outcome: await migrateOne(options, raw) };
  };

  for (;;) {
    if (options.signal?.aborted) {
      aborted = true;
      break;
    }
    const page = await options.store.list({ limit: batchSize, ...(cursor === undefined ? {} : { cursor }) });
    const handled = await runBounded(page.ids, concurrency, handle);
    let batchFailed = 0;
    for (const [i, h] of handled.entries()) {
      const o = h.outcome;
      if (o.kind === 'aborted') {
        aborted = true;
        continue;
      }
      listed += 1;
      if (h.as !== undefined) seen[h.as] += 1;
      if (o.kind === 'migrated') migrated += 1;
      else if (o.kind === 'conflict') conflicts += 1;
      else if (o.kind === 'failed') {
        batchFailed += 1;
        if (failed.length < MAX_REPORTED_MIGRATION_FAILURES) failed.push({ id: page.ids[i] as string, reason: o.reason });
      }
    }
    failedCount += batchFailed;
    if (aborted) break;
    if (!dryRun && options.checkpoint !== undefined) {
      const checkpoint: SweepCheckpoint = {
        ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
        completed: page.cursor === undefined,
        done: totals.done + migrated,
        skipped: totals.skipped + conflicts,
        failed: totals.failed + failedCount,
        updatedAt: new Date().toISOString(),
      };
      await options.checkpoint.put(migrationId, checkpoint);
    }
    options.onProgress?.({ migrationId, listed, migrated, conflicts, failed: failedCount });
    if (page.cursor === undefined) {
      completed = true;
      break;
    }
    cursor = page.cursor;
  }

  return {
    migrationId,
    keyring: options.keyring,
    from: options.from,
    store: options.store.label,
    dryRun,
    listed,
    seen,
    migrated,
    conflicts,
    failed,
    failedCount,
    resumed,
    completed,
    aborted,
    rateLimiter: limiter?.stats() ?? { taken: 0, sleeps: 0 },
  };
}

// Only typed errors are per-record failures; anything else (a crash, a bug) stops the run, which
// then resumes from its last checkpoint.
function failure(err: unknown, fallback: MigrationFailureReason): Outcome {
  if (!(err instanceof RekeyError)) throw err;
  return { kind: 'failed', reason: REASON_BY_CODE[err.code] ?? fallback };
}

async function migrateOne(options: MigrateRecordsOptions, raw: RawRecord): Promise<Outcome> {
  const { id, bytes } = raw;
  let plaintext: Buffer;
  if (options.from === 'plaintext') plaintext = bytes;
  else {
    try {
      plaintext = (await (options.decryptor as SourceDecryptor).decrypt(bytes)).plaintext;
    } catch (err) {
      if (err instanceof RekeyError) return { kind: 'failed', reason: err.code === 'CONTEXT_MISMATCH' ? 'source-context-mismatch' : 'source-decrypt-failed' };
      throw err;
    }
  }
  try {
    const context = recordContext(id, options.context);
    let envelope: Buffer;
    try {
      envelope = await options.envelopes.encrypt(options.keyring, plaintext, { context, ...(options.storeContext === true ? { storeContext: true } : {}) });
    } catch (err) {
      return failure(err, 'key-unavailable');
    }
    // Verify before replace: the header names this keyring, and the envelope opens under the
    // same context to exactly the bytes it replaces.
    let info;
    let check: Buffer | undefined;
    try {
      info = options.envelopes.inspect(envelope);
      check = (await options.envelopes.decrypt(envelope, { context })).plaintext;
    } catch (err) {
      if (err instanceof RekeyError) return { kind: 'failed', reason: 'verification-failed' };
      throw err;
    }
    const same = sameBytes(check, plaintext);
    check.fill(0);
    if (!same || info.keyring !== options.keyring || classifyRecord(envelope) !== 'rekey') return { kind: 'failed', reason: 'verification-failed' };
    try {
      await options.store.replace(raw, { keyring: options.keyring, version: info.version, envelope });
      return { kind: 'migrated' };
    } catch (err) {
      if (err instanceof ConflictError) return { kind: 'conflict' };
      return failure(err, 'backend');
    }
  } finally {
    plaintext.fill(0);
    if (plaintext !== bytes) bytes.fill(0);
  }
}
