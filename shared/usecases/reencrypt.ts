/**
 * reencrypt: the sweep worker for objects that an AWS engine has already listed, one batch at a
 * time: a Step Functions Distributed Map ItemBatcher payload, or an S3 Batch Operations task
 * list. Each object goes through the Sweeper (its verification and conditional write) over a
 * one-record view, so the worker migrates exactly the listed objects and reports each one.
 *
 * A re-wrap item on a store with header reads (BatchRecordStore: S3 ranged GETs) reads the
 * header first: an object already at the active version costs one small ranged GET and no
 * write, and one to re-wrap takes the Sweeper's header-only path (putHeaders), so its payload
 * is never decrypted. A re-encryption, and a record under a revoked version, read the whole
 * record, as they need the body.
 *
 * Idempotent: an object already at the active version (or moved by a concurrent writer) is
 * skipped, and every write is conditional on the revision read, so a retried batch does no harm.
 */
import { BackendError, NotARecordError, ThrottledError, ValidationError, isRekeyError } from '../errors';
import { activeVersion } from '../catalog/lifecycle';
import type { Catalog } from '../catalog/model';
import { runBounded } from '../reencrypt/bounded';
import { Sweeper, type SweepMode } from '../reencrypt/sweeper';
import type { JobContext } from './context';
import type { MapBatchEvent, ReencryptEvent, S3BatchEvent } from '../vocabulary/event-schemas';
import { HeaderItemRecordView, ItemRecordView } from './item-record-view';
import { isBatchRecordStore, type BatchRecordStore, type StoredHeader, type StoredRecord } from '../ports/record-store';
import type { CheckpointStore } from '../ports/checkpoint-store';
import { METRIC } from '../vocabulary/metric-names';
import type { TargetStore } from '../ports/target-store';
import type { KeyringService } from '../catalog/keyring-service';
import type { EnvelopeOps, VersionLookup } from '../reencrypt/dependencies';
import { tallyOf, type CensusPart, type CensusPlacement } from '../reencrypt/census';

/** The services the reencrypt job reads. */
export interface ReencryptServices {
  readonly keyrings: Pick<KeyringService, 'get'>;
  /** One store per configured record target. */
  readonly recordTargets: readonly TargetStore[];
  /** Version keys and states; `invalidate` drops its caches of a keyring. */
  readonly provider: VersionLookup & { invalidate(keyring?: string): void | Promise<void> };
  readonly envelopes: EnvelopeOps;
}

/**
 * The checkpoint of a one-record sweep: there is nothing to resume (the item view serves its
 * record once and every write is conditional), so nothing is kept; the Sweeper reads it once,
 * at the start, and finds no earlier run.
 */
const ONE_ITEM: CheckpointStore = {
  get: async () => undefined,
  put: async () => undefined,
  clear: async () => undefined,
};

/** Objects migrated at the same time within one batch. */
export const ITEM_CONCURRENCY = 8;

/** The outcome of one object. */
export interface ItemResult {
  readonly key: string;
  readonly status: 'done' | 'skipped' | 'failed';
  readonly reason?: string;
  /** For failures: whether a later retry may succeed. */
  readonly retryable?: boolean;
  /**
   * Where the record is after this item (its version and origin), for the batch's census
   * tally: `absent` for no record of this keyring (gone, another keyring's, or changed by a
   * concurrent writer, whose write S3 reports as a write mark), `unknown` when the sweep could
   * not learn it. Never sent in a response.
   */
  readonly placed?: CensusPlacement;
}

/** Counts of a batch. */
export interface ItemCounts {
  readonly done: number;
  readonly skipped: number;
  readonly failed: number;
}

/** The response to a Distributed Map batch. */
export interface MapBatchResponse {
  readonly ok: boolean;
  readonly keyring: string;
  readonly mode: SweepMode;
  readonly counts: ItemCounts;
  readonly results: readonly ItemResult[];
  /**
   * Where the batch's records are now, by version and origin: the census step after the map
   * run sums every batch's tally into the target's census (shared/reencrypt/census.ts).
   */
  readonly census: CensusPart;
}

/** The response to an S3 Batch Operations invocation (response schema 1.0). */
export interface S3BatchResponse {
  readonly invocationSchemaVersion: '1.0';
  readonly treatMissingKeysAs: 'PermanentFailure';
  readonly invocationId: string;
  readonly results: readonly { taskId: string; resultCode: 'Succeeded' | 'TemporaryFailure' | 'PermanentFailure'; resultString: string }[];
}

// Sweep failure reasons (and error codes) that a retry may fix.
const RETRYABLE_REASONS = new Set(['throttled', 'backend', 'THROTTLED', 'BACKEND', 'CONFLICT', 'internal']);
const DECRYPT_REASONS = new Set(['decrypt-failed', 'verification-failed', 'context-mismatch']);

/**
 * Runs the reencrypt job on either event shape.
 *
 * @example
 * await runReencrypt({ BatchInput: { keyring: 'k', bucket: 'b', prefix: 'p/', mode: 'rewrap' }, Items: [{ Key: 'p/r1' }] }, context);
 */
export async function runReencrypt(event: ReencryptEvent, context: JobContext<ReencryptServices>): Promise<MapBatchResponse | S3BatchResponse> {
  return 'invocationSchemaVersion' in event ? runS3Batch(event, context) : runMapBatch(event, context);
}

async function runMapBatch(event: MapBatchEvent, context: JobContext<ReencryptServices>): Promise<MapBatchResponse> {
  const { keyring, bucket, prefix, mode, version } = event.BatchInput;
  const target = context.services.recordTargets.find((t) => t.target.keyring === keyring && t.target.bucket === bucket && prefix.startsWith(t.target.prefix));
  if (target === undefined) throw new ValidationError(`BatchInput: bucket/prefix is not a configured record target of keyring '${keyring}'`);
  const catalog = await context.services.keyrings.get(keyring);
  const results = await migrateItems(catalog, target, event.Items.map((i) => i.Key), mode, version, context);
  const counts = countOf(results);
  const retryable = results.filter((r) => r.status === 'failed' && r.retryable === true);
  if (retryable.length > 0) {
    // Step Functions retries the batch; the done items are skipped next time.
    const message = `reencrypt: ${retryable.length} of ${results.length} item(s) failed temporarily; retrying the batch`;
    throw retryable.every((r) => r.reason === 'throttled' || r.reason === 'THROTTLED') ? new ThrottledError(message) : new BackendError(message);
  }
  return { ok: counts.failed === 0, keyring, mode, counts, results: results.map(withoutPlacement), census: tallyOf(results.map((r) => r.placed ?? 'unknown')) };
}

/** An item's result as a response carries it. */
export function withoutPlacement(r: ItemResult): ItemResult {
  const { placed: _placed, ...rest } = r;
  return rest;
}

async function runS3Batch(event: S3BatchEvent, context: JobContext<ReencryptServices>): Promise<S3BatchResponse> {
  const args = event.invocationSchemaVersion === '2.0' ? event.job.userArguments : undefined;
  const mode: SweepMode = args?.mode ?? 'rewrap';
  const version = args?.version === undefined ? undefined : Number(args.version);
  const out = new Map<string, S3BatchResponse['results'][number]>();
  const groups = new Map<TargetStore, { taskId: string; key: string }[]>();
  for (const task of event.tasks) {
    const bucket = 's3Bucket' in task ? task.s3Bucket : task.s3BucketArn.slice(task.s3BucketArn.lastIndexOf(':') + 1);
    const target = context.services.recordTargets
      .filter((t) => t.target.bucket === bucket && task.s3Key.startsWith(t.target.prefix) && (args?.keyring === undefined || t.target.keyring === args.keyring))
      .sort((a, b) => b.target.prefix.length - a.target.prefix.length)[0];
    if (target === undefined) {
      out.set(task.taskId, { taskId: task.taskId, resultCode: 'PermanentFailure', resultString: 'not a configured record target' });
      continue;
    }
    groups.set(target, [...(groups.get(target) ?? []), { taskId: task.taskId, key: task.s3Key }]);
  }
  for (const [target, tasks] of groups) {
    let results: ItemResult[];
    try {
      const catalog = await context.services.keyrings.get(target.target.keyring);
      results = await migrateItems(catalog, target, tasks.map((t) => t.key), mode, version, context);
    } catch (err) {
      const code = isRekeyError(err) ? err.code : 'internal';
      const retryable = !isRekeyError(err) || err.retryable;
      results = tasks.map((t) => ({ key: t.key, status: 'failed', reason: code, retryable }));
    }
    tasks.forEach((task, i) => {
      const r = results[i] as ItemResult;
      const resultCode = r.status !== 'failed' ? 'Succeeded' : r.retryable === true ? 'TemporaryFailure' : 'PermanentFailure';
      out.set(task.taskId, { taskId: task.taskId, resultCode, resultString: r.reason === undefined ? r.status : `${r.status}: ${r.reason}` });
    });
  }
  return {
    invocationSchemaVersion: '1.0',
    treatMissingKeysAs: 'PermanentFailure',
    invocationId: event.invocationId,
    results: event.tasks.map((t) => out.get(t.taskId) as S3BatchResponse['results'][number]),
  };
}

export async function migrateItems(
  catalog: Catalog,
  target: TargetStore,
  keys: readonly string[],
  mode: SweepMode,
  onlyVersion: number | undefined,
  context: JobContext<ReencryptServices>,
): Promise<ItemResult[]> {
  const keyring = catalog.keyring;
  const active = activeVersion(catalog)?.version;
  // The batch was planned against a catalog newer than this process's cached one (a warm
  // Lambda): re-read it, or the sweeper would still see the previous active version.
  await context.services.provider.invalidate(keyring);
  const attempts = new Map<number, { attempts: number; failures: number }>();
  const results = await runBounded(keys, ITEM_CONCURRENCY, async (key): Promise<ItemResult> => {
    const r = await migrateOne(catalog, target, key, mode, onlyVersion, active, context, attempts);
    return r;
  });
  const counts = countOf(results);
  context.metrics.put(METRIC.sweepDone, counts.done, { keyring });
  context.metrics.put(METRIC.sweepSkipped, counts.skipped, { keyring });
  context.metrics.put(METRIC.sweepFailed, counts.failed, { keyring });
  for (const [version, n] of attempts) {
    context.metrics.put(METRIC.decryptAttempts, n.attempts, { keyring, version });
    context.metrics.put(METRIC.decryptFailures, n.failures, { keyring, version });
  }
  context.logger.info('batch migrated', { keyring, mode, ...counts });
  return results;
}

async function migrateOne(
  catalog: Catalog,
  { target, store }: TargetStore,
  key: string,
  mode: SweepMode,
  onlyVersion: number | undefined,
  active: number | undefined,
  context: JobContext<ReencryptServices>,
  attempts: Map<number, { attempts: number; failures: number }>,
): Promise<ItemResult> {
  const id = key.slice(target.prefix.length);
  if (!key.startsWith(target.prefix) || id.length === 0) return { key, status: 'failed', reason: 'not a record key', retryable: false, placed: 'absent' };
  const stateOf = (version: number): string | undefined => catalog.versions.find((v) => v.version === version)?.state;
  // A re-wrap reads the header first (a ranged GET on S3): a record already on the active
  // version, or in another keyring, is then skipped without its body ever being downloaded,
  // and one to re-wrap goes through the Sweeper's header-only path (the body is not decrypted,
  // and on S3 above the multipart threshold not even moved). A re-encryption needs the body.
  let record: StoredHeader | StoredRecord | undefined;
  try {
    const head = mode === 'rewrap' && isBatchRecordStore(store) ? await headerOf(store, id) : 'whole';
    if (head === 'gone') return { key, status: 'skipped', reason: 'gone', placed: 'absent' };
    // No header path (another mode, another store, or a header that cannot be read alone) or a
    // record under a revoked version (re-encrypted below, which needs the body): read it whole.
    const whole = head === 'whole' || (head.keyring === catalog.keyring && stateOf(head.version) === 'revoked');
    record = whole ? await store.get(id) : head;
  } catch (err) {
    return { ...failed(key, err), placed: placementOfFailure(err) };
  }
  if (record === undefined) return { key, status: 'skipped', reason: 'gone', placed: 'absent' };
  if (record.keyring !== catalog.keyring) return { key, status: 'skipped', reason: 'another keyring', placed: 'absent' };
  // Where the record stays unless this item moves it.
  const stays: CensusPlacement = { version: record.version, origin: record.originVersion };
  const state = stateOf(record.version);
  // A record under a revoked version is never re-wrapped (its data key may be exposed): a
  // re-wrap batch that meets one re-encrypts it instead of failing it.
  const itemMode: SweepMode = mode === 'rewrap' && state === 'revoked' ? 'reencrypt' : mode;
  // Which version this item is swept off: in a re-encryption of version N every record whose
  // data key was made at or before N (origin <= N), wherever its header points now.
  let sweepVersion = record.version;
  if (itemMode === 'reencrypt' && onlyVersion !== undefined) {
    if (record.originVersion > onlyVersion) return { key, status: 'skipped', reason: 'data key newer than the batch version', placed: stays };
    sweepVersion = onlyVersion;
  } else {
    if (onlyVersion !== undefined && record.version !== onlyVersion) return { key, status: 'skipped', reason: 'not at the batch version', placed: stays };
    if (active === undefined || record.version >= active) return { key, status: 'skipped', reason: 'already at the active version', placed: stays };
  }
  if (active === undefined) return { key, status: 'skipped', reason: 'no active version', placed: stays };

  const tally = attempts.get(record.version) ?? { attempts: 0, failures: 0 };
  attempts.set(record.version, tally);
  tally.attempts += 1;
  const view = 'envelope' in record ? new ItemRecordView(store, record) : new HeaderItemRecordView(store as BatchRecordStore, record);
  const sweeper = new Sweeper({ records: view, envelopes: context.services.envelopes, versions: context.services.provider });
  try {
    const result = await sweeper.sweep(catalog.keyring, sweepVersion, { mode: itemMode, checkpoint: ONE_ITEM, batchSize: 1, concurrency: 1 });
    // Placed where it was written (the envelope layer re-wraps to the version active at that
    // moment, which may be newer than this batch's catalog): version and origin of the write.
    if (view.written) return { key, status: 'done', placed: { version: view.now.version, origin: view.now.originVersion } };
    const failure = result.failed[0];
    if (failure !== undefined) {
      if (DECRYPT_REASONS.has(failure.reason)) tally.failures += 1;
      return { key, status: 'failed', reason: failure.reason, retryable: RETRYABLE_REASONS.has(failure.reason), placed: stays };
    }
    // Moved by someone else meanwhile: that write is S3's to report (a write mark), not ours to guess.
    return { key, status: 'skipped', reason: view.conflicted ? 'changed concurrently' : 'already moved', placed: 'absent' };
  } catch (err) {
    return { ...failed(key, err), placed: placementOfFailure(err) };
  }
}

/**
 * The record's header; `gone` when there is no record; `whole` when the header cannot be read
 * on its own for a reason a retry would not fix (bytes that are no rekey header, metadata
 * disagreeing with the header): the item then takes the whole-record path, which reports such
 * a record as it always did. Retryable errors propagate.
 */
async function headerOf(store: BatchRecordStore, id: string): Promise<StoredHeader | 'gone' | 'whole'> {
  try {
    return (await store.getHeader(id)) ?? 'gone';
  } catch (err) {
    if (isRekeyError(err) && !err.retryable) return 'whole';
    throw err;
  }
}

/** What a failed read says of the census: no record when the store says it holds none, else unknown. */
function placementOfFailure(err: unknown): CensusPlacement {
  return err instanceof NotARecordError ? 'absent' : 'unknown';
}

function failed(key: string, err: unknown): ItemResult {
  if (isRekeyError(err)) return { key, status: 'failed', reason: err.code, retryable: err.retryable || RETRYABLE_REASONS.has(err.code) };
  return { key, status: 'failed', reason: 'internal', retryable: true };
}

function countOf(results: readonly ItemResult[]): ItemCounts {
  return {
    done: results.filter((r) => r.status === 'done').length,
    skipped: results.filter((r) => r.status === 'skipped').length,
    failed: results.filter((r) => r.status === 'failed').length,
  };
}
