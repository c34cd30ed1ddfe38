/**
 * The record census of S3 targets (shared/reencrypt/census.ts), as two jobs:
 *
 * - {@link runCensusClose}: after a sweep's map run succeeded, sum every batch's tally from the
 *   run's results (the Distributed Map's ResultWriter manifest and result files) into the
 *   target's census, stamped with the execution's start and whether the bucket reports writes.
 * - {@link runRecordWritten}: an S3 `Object Created` event of a record target becomes a write
 *   mark carrying the version and origin of the object's header, so that counts stay an upper
 *   bound between two censuses.
 *
 * Pure over ports: the reencrypt and key-use functions, and tests, call the same functions.
 */
import { isRekeyError, NotARecordError, ValidationError } from '../errors';
import type { BatchRecordStore, StoredHeader } from '../ports/record-store';
import type { CensusCounts, RecordCensusStore } from '../ports/record-census';
import type { SweepResultsReader } from '../ports/sweep-results';

export type { SweepResultsReader } from '../ports/sweep-results';
import type { TargetStore } from '../ports/target-store';
import { addCounts, eventsSince, sumParts } from '../reencrypt/census';
import { SWEEP_RESULTS_PREFIX, type CensusTarget } from '../vocabulary/record-census';
import type { JobContext } from './context';

/** What {@link runCensusClose} reads. */
export interface CensusCloseServices {
  readonly census: RecordCensusStore;
  readonly results: SweepResultsReader;
  readonly recordTargets: readonly TargetStore[];
  /** The state bucket: the only bucket results are read from. */
  readonly stateBucket: string;
  readonly clock: () => Date;
}

/** The census step's event (the state machine's Task after a successful S3 map run). */
export interface CensusCloseEvent {
  readonly census: {
    readonly keyring: string;
    readonly bucket: string;
    readonly prefix: string;
    /** `$$.Execution.StartTime`. */
    readonly startedAt: string;
    /** `$$.Execution.Id`. */
    readonly execution?: string;
    /** The map's `ResultWriterDetails`: the manifest's location. */
    readonly results: { readonly Bucket: string; readonly Key: string };
  };
}

/** What the census step did. */
export type CensusCloseOutcome =
  | { readonly closed: true; readonly keyring: string; readonly records: number; readonly writeEvents: boolean; readonly outcome: 'written' | 'superseded' }
  | { readonly closed: false; readonly keyring: string; readonly reason: string };

/** Largest manifest read. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
/** Largest result entry (one batch: its input of up to 1,000 items and its answer). */
export const MAX_RESULT_LINE_BYTES = 4 * 1024 * 1024;
/** Largest result file read whole: one written as a JSON array rather than JSON Lines. */
export const MAX_RESULT_ARRAY_BYTES = 64 * 1024 * 1024;

/**
 * Closes the census of one S3 target from its map run's results. A run whose results are
 * incomplete (failed or pending children, a batch answer without a tally, too large to read)
 * closes nothing and says why; the previous census then ages out and counts fall back to
 * listing, never to a guess.
 *
 * @example
 * await runCensusClose({ census: { keyring: 'pii', bucket: 'records', prefix: 'pii/', startedAt, results: { Bucket: 'state', Key: 'sweeps/run/manifest.json' } } }, context);
 * @throws ValidationError for a target that is not configured or results outside the state bucket's sweep prefix.
 */
export async function runCensusClose(event: CensusCloseEvent, context: JobContext<CensusCloseServices>): Promise<CensusCloseOutcome> {
  const { keyring, bucket, prefix, results } = event.census;
  const services = context.services;
  const target = services.recordTargets.find((t) => t.target.keyring === keyring && t.target.bucket === bucket && t.target.prefix === prefix);
  if (target === undefined) throw new ValidationError(`census: bucket/prefix is not a configured record target of keyring '${keyring}'`);
  if (results.Bucket !== services.stateBucket || !results.Key.startsWith(SWEEP_RESULTS_PREFIX) || results.Key.includes('..')) {
    throw new ValidationError(`census: results must be under s3://<state bucket>/${SWEEP_RESULTS_PREFIX}`);
  }
  const startedAt = new Date(event.census.startedAt);
  if (Number.isNaN(startedAt.getTime())) throw new ValidationError('census: startedAt must be an ISO time');
  const not = (reason: string): CensusCloseOutcome => {
    context.logger.warn('census not taken', { keyring, bucket, prefix, reason });
    return { closed: false, keyring, reason };
  };

  const manifestText = await services.results.readText(results.Bucket, results.Key, MAX_MANIFEST_BYTES);
  if (manifestText === undefined) return not('the map run wrote no manifest');
  const manifest = parseManifest(manifestText);
  if (manifest === undefined) return not('the manifest is not a ResultWriter manifest');
  if (manifest.failed + manifest.pending > 0) return not('the map run has failed or pending batches');
  const folder = results.Key.slice(0, results.Key.lastIndexOf('/') + 1);
  // Running totals: each tally is checked and added as it streams by, nothing else is kept.
  let counts: CensusCounts = sumParts([]);
  let bad: string | undefined;
  const add = (tally: unknown): void => {
    if (bad !== undefined) return;
    if (tally === undefined) {
      bad = 'a batch answer carries no census tally';
      return;
    }
    try {
      counts = addCounts(counts, sumParts([tally]));
    } catch (err) {
      bad = isRekeyError(err) ? err.message : 'a batch tally is invalid';
    }
  };
  try {
    for (const file of manifest.succeeded) {
      if (!file.startsWith(folder)) return not('a result file lies outside the run folder');
      if (file.endsWith('.jsonl')) {
        const found = await services.results.readLines(results.Bucket, file, MAX_RESULT_LINE_BYTES, (line) => {
          if (line.trim() !== '') add(tallyOfEntry(parseLine(line)));
        });
        if (!found) return not('a result file is missing');
      } else {
        const text = await services.results.readText(results.Bucket, file, MAX_RESULT_ARRAY_BYTES);
        if (text === undefined) return not('a result file is missing');
        const entries = parseArray(text);
        if (entries === undefined) return not('a result file is not JSON');
        for (const entry of entries) add(tallyOfEntry(entry));
      }
      if (bad !== undefined) return not(bad);
    }
  } catch (err) {
    // A file or line beyond its bound: no census, said why (the sweep itself succeeded).
    if (err instanceof ValidationError) return not(err.message);
    throw err;
  }
  const writeEvents = await services.results.eventBridgeEnabled(bucket);
  const now = services.clock();
  const since = eventsSince(await services.census.read(target.target), writeEvents, now);
  const outcome = await services.census.close({
    target: target.target,
    startedAt,
    closedAt: now,
    writeEvents,
    ...(since === undefined ? {} : { writeEventsSince: since }),
    counts,
    ...(event.census.execution === undefined ? {} : { source: event.census.execution }),
  });
  const records = [...counts.byVersion.values()].reduce((a, b) => a + b, 0);
  context.logger.info('census closed', { keyring, bucket, prefix, records, unknown: counts.unknown, writeEvents, outcome });
  if (!writeEvents) context.logger.warn('record target bucket sends no EventBridge events: its counts keep listing every object', { keyring, bucket });
  return { closed: true, keyring, records, writeEvents, outcome };
}

/** What {@link runRecordWritten} reads. */
export interface RecordWrittenServices {
  readonly census: RecordCensusStore;
  /** The S3 record targets, each with a store that reads headers. */
  readonly recordTargets: readonly { readonly target: CensusTarget; readonly store: Pick<BatchRecordStore, 'getHeader'> }[];
}

/** S3's `Object Created` event, the fields the job reads (validated by the handler's schema). */
export interface RecordWrittenEvent {
  readonly id: string;
  readonly time: string;
  readonly detail: { readonly bucket: { readonly name: string }; readonly object: { readonly key: string } };
}

/** What the job did with one write. */
export type RecordWrittenOutcome =
  | { readonly marked: true; readonly keyring: string; readonly version: number; readonly origin: number }
  | { readonly marked: false; readonly reason: 'not a record target' | 'gone' | 'not a record' | 'another keyring' };

/**
 * Marks one reported write of a record target object with the version and origin its header
 * carries now. The header is read when the event arrives, so a later write may already have
 * replaced the object: that write has its own event and mark, and the record is counted where
 * it is; an object deleted meanwhile needs no mark.
 *
 * @example
 * await runRecordWritten(objectCreatedEvent, context); // { marked: true, keyring: 'pii', version: 4, origin: 2 }
 */
export async function runRecordWritten(event: RecordWrittenEvent, context: JobContext<RecordWrittenServices>): Promise<RecordWrittenOutcome> {
  const bucket = event.detail.bucket.name;
  const rawKey = event.detail.object.key;
  const decoded = formDecode(rawKey);
  // Targets may overlap (a keyring on a whole bucket, another on a prefix of it): every target
  // whose prefix holds the key is asked, and each one whose keyring the record is of gets a mark
  // (its sweep lists that object too). The header is read once per store.
  const matching = context.services.recordTargets.filter((t) => t.target.bucket === bucket && [rawKey, decoded].some((k) => k !== undefined && k.startsWith(t.target.prefix) && k.length > t.target.prefix.length));
  if (matching.length === 0) return { marked: false, reason: 'not a record target' };
  let head: StoredHeader | undefined;
  try {
    head = await headerAt(matching[0] as RecordWrittenServices['recordTargets'][number], rawKey, decoded);
  } catch (err) {
    // Only what the store says is no rekey record is none; anything else (access denied, an
    // archived object, a backend failure) is thrown, retried, and lands in the failure queue,
    // which stops the census from being used (census-counts.ts).
    if (err instanceof NotARecordError) {
      context.logger.info('written object is not a record', { bucket, eventId: event.id });
      return { marked: false, reason: 'not a record' };
    }
    throw err;
  }
  if (head === undefined) return { marked: false, reason: 'gone' };
  const record = head;
  const owners = matching.filter((t) => t.target.keyring === record.keyring);
  if (owners.length === 0) return { marked: false, reason: 'another keyring' };
  const at = new Date(event.time);
  for (const t of owners) await context.services.census.recordWrite(t.target, { at, version: record.version, origin: record.originVersion, eventId: event.id });
  return { marked: true, keyring: record.keyring, version: record.version, origin: record.originVersion };
}

/**
 * The current header at the event's key. S3 notifications may carry the key URL-encoded (form
 * encoding): the decoded key is tried before concluding the object is gone, or a write would go
 * unmarked. A deleted key (Object Deleted) reads whatever is current there now: a delete that
 * brings an older version back (a version or delete marker removed) is then marked too.
 */
async function headerAt(t: RecordWrittenServices['recordTargets'][number], rawKey: string, decoded: string | undefined): Promise<StoredHeader | undefined> {
  const prefix = t.target.prefix;
  if (rawKey.startsWith(prefix)) {
    const head = await t.store.getHeader(rawKey.slice(prefix.length));
    if (head !== undefined) return head;
  }
  if (decoded !== undefined && decoded !== rawKey && decoded.startsWith(prefix)) return t.store.getHeader(decoded.slice(prefix.length));
  return undefined;
}

function formDecode(key: string): string | undefined {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** The manifest's result files ("ResultWriter (Map)", Step Functions Developer Guide: `ResultFiles` by status). */
function parseManifest(text: string): { succeeded: string[]; failed: number; pending: number } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const files = (json as { ResultFiles?: unknown } | null)?.ResultFiles;
  if (typeof files !== 'object' || files === null) return undefined;
  const list = (status: string): string[] | undefined => {
    const v = (files as Record<string, unknown>)[status];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.length > 100_000) return undefined;
    const keys = v.map((f) => (f as { Key?: unknown } | null)?.Key);
    return keys.every((k): k is string => typeof k === 'string') ? keys : undefined;
  };
  const succeeded = list('SUCCEEDED');
  const failed = list('FAILED');
  const pending = list('PENDING');
  if (succeeded === undefined || failed === undefined || pending === undefined) return undefined;
  // Any other non-empty status is results this reader does not know: no census from them.
  const others = Object.entries(files as Record<string, unknown>).filter(([k, v]) => !['SUCCEEDED', 'FAILED', 'PENDING'].includes(k) && (!Array.isArray(v) || v.length > 0));
  if (others.length > 0) return undefined;
  return { succeeded, failed: failed.length, pending: pending.length };
}

/** A result file written as one JSON array. */
function parseArray(text: string): unknown[] | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return undefined;
  }
}

/** The tally of one child execution's entry: its `Output` is the batch answer as a JSON string (NONE transformation). */
function tallyOfEntry(entry: unknown): unknown {
  const output = (entry as { Output?: unknown } | null)?.Output;
  let answer: unknown = output;
  if (typeof output === 'string') {
    try {
      answer = JSON.parse(output);
    } catch {
      return undefined;
    }
  }
  return (answer as { census?: unknown } | null)?.census ?? undefined;
}
