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
import { isRekeyError, ValidationError } from '../errors';
import type { BatchRecordStore } from '../ports/record-store';
import type { RecordCensusStore } from '../ports/record-census';
import type { TargetStore } from '../ports/target-store';
import { eventsSince, sumParts } from '../reencrypt/census';
import { SWEEP_RESULTS_PREFIX, type CensusTarget } from '../vocabulary/record-census';
import type { JobContext } from './context';

/** Reads the sweep's results and asks S3 about a bucket's notifications. */
export interface SweepResultsReader {
  /** The object's text; undefined when absent; ValidationError beyond `maxBytes`. */
  readText(bucket: string, key: string, maxBytes: number): Promise<string | undefined>;
  /**
   * Streams the object's lines (JSON Lines) to `onLine` without holding the object; false when
   * absent. A line longer than `maxLineBytes` is a ValidationError.
   */
  readLines(bucket: string, key: string, maxLineBytes: number, onLine: (line: string) => void): Promise<boolean>;
  /** Whether the bucket sends its events to EventBridge. */
  eventBridgeEnabled(bucket: string): Promise<boolean>;
}

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
  const parts: unknown[] = [];
  for (const file of manifest.succeeded) {
    if (!file.startsWith(folder)) return not('a result file lies outside the run folder');
    if (file.endsWith('.jsonl')) {
      // One child per line, tallies kept, everything else dropped as it streams by.
      let bad = false;
      const found = await services.results.readLines(results.Bucket, file, MAX_RESULT_LINE_BYTES, (line) => {
        if (bad || line.trim() === '') return;
        const tally = tallyOfEntry(parseLine(line));
        if (tally === undefined) bad = true;
        else parts.push(tally);
      });
      if (!found) return not('a result file is missing');
      if (bad) return not('a batch answer carries no census tally');
      continue;
    }
    const text = await services.results.readText(results.Bucket, file, MAX_RESULT_ARRAY_BYTES);
    if (text === undefined) return not('a result file is missing');
    const entries = parseArray(text);
    if (entries === undefined) return not('a result file is not JSON');
    for (const entry of entries) {
      const tally = tallyOfEntry(entry);
      if (tally === undefined) return not('a batch answer carries no census tally');
      parts.push(tally);
    }
  }
  let counts;
  try {
    counts = sumParts(parts);
  } catch (err) {
    return not(isRekeyError(err) ? err.message : 'a batch tally is invalid');
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
  const target = context.services.recordTargets
    .filter((t) => t.target.bucket === bucket && rawKey.startsWith(t.target.prefix) && rawKey.length > t.target.prefix.length)
    .sort((a, b) => b.target.prefix.length - a.target.prefix.length)[0];
  if (target === undefined) return { marked: false, reason: 'not a record target' };
  let head;
  try {
    head = await target.store.getHeader(rawKey.slice(target.target.prefix.length));
    // S3 notifications may carry the key URL-encoded (form encoding): try the decoded key
    // before concluding the object is gone, or a write would go unmarked.
    const decoded = formDecode(rawKey);
    if (head === undefined && decoded !== undefined && decoded !== rawKey && decoded.startsWith(target.target.prefix)) {
      head = await target.store.getHeader(decoded.slice(target.target.prefix.length));
    }
  } catch (err) {
    if (isRekeyError(err) && !err.retryable) {
      context.logger.info('written object is not a record', { bucket, eventId: event.id });
      return { marked: false, reason: 'not a record' };
    }
    throw err;
  }
  if (head === undefined) return { marked: false, reason: 'gone' };
  if (head.keyring !== target.target.keyring) return { marked: false, reason: 'another keyring' };
  await context.services.census.recordWrite(target.target, { at: new Date(event.time), version: head.version, origin: head.originVersion, eventId: event.id });
  return { marked: true, keyring: head.keyring, version: head.version, origin: head.originVersion };
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
