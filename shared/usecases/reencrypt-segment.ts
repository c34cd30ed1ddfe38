/**
 * reencrypt-segment: the sweep worker for one parallel-scan segment of a DynamoDB table target.
 * The sweep state machine fans a table out over `totalSegments` segments; each invocation pages
 * its segment (scanSegment of the version index, filtered to what the mode must move) for a
 * bounded budget, runs every record through the same per-record migration as the S3 batch
 * path (migrateItems of ./reencrypt), and returns a `cursor` while the segment is not finished,
 * so that Step Functions holds the resume point between invocations (each one a durable step: a
 * redrive resumes failed segments at their last cursor).
 *
 * Idempotent like the batch path: every write is conditional on the revision read and a record
 * already moved is skipped, so a retried page does no harm. Retryable failures are thrown (the
 * page is retried from the same cursor by the state machine's retriers).
 *
 * No rate limit of its own, like the S3 branch: the state machine's map concurrency (and the
 * worker's reserved concurrency) bound the sweep's throughput.
 */
import { BackendError, ThrottledError, ValidationError } from '../errors';
import { activeVersion } from '../catalog/lifecycle';
import type { SweepMode } from '../reencrypt/sweeper';
import type { ReencryptFunctionEvent, SegmentEvent } from '../vocabulary/event-schemas';
import type { TableTargetStore } from '../ports/table-target-store';
import type { TargetStore } from '../ports/target-store';
import type { JobContext } from './context';
import { runCensusClose, type CensusCloseOutcome, type CensusCloseServices } from './record-census';
import { migrateItems, runReencrypt, type ItemCounts, type ItemResult, type MapBatchResponse, type ReencryptServices, type S3BatchResponse } from './reencrypt';

/** The services of the segment worker: those of the batch path plus the table targets. */
export type SegmentServices = ReencryptServices & {
  /** One store per configured DynamoDB table target. @default none (a service set built before table targets existed) */
  readonly tableTargets?: readonly TableTargetStore[];
  /** The census step's ports (./record-census.ts). @default none: a census event is refused */
  readonly censusClose?: Omit<CensusCloseServices, 'recordTargets'>;
};

/** How much one invocation may do before it hands a cursor back. */
export interface SegmentBudget {
  /** Stop after this many records (matching the mode's filter) were handled. */
  readonly maxRecords: number;
  /** Index entries evaluated per scan page. @default 100 */
  readonly pageLimit?: number;
  /**
   * Milliseconds left to this invocation (Lambda's `getRemainingTimeInMillis`); absent, only
   * `maxRecords` bounds it.
   */
  readonly remainingMs?: () => number;
  /** Stop once less than this share of the time the invocation started with is left. @default 0.4 */
  readonly keepFraction?: number;
}

/** Records one invocation handles at most when the handler names no budget. */
export const DEFAULT_SEGMENT_RECORDS = 2000;
/** Index entries per scan page. */
export const DEFAULT_SEGMENT_PAGE = 100;
/** Share of the starting time left at which an invocation stops (room for the page in flight and the response). */
export const DEFAULT_KEEP_FRACTION = 0.4;

/**
 * The response to a segment event: the event to resume with (every event field echoed, the
 * counts summed over the segment's invocations so far) and a `cursor` while work is left.
 */
export interface SegmentResponse {
  readonly keyring: string;
  readonly table: string;
  readonly mode: SweepMode;
  readonly version?: number;
  readonly segment: number;
  readonly totalSegments: number;
  readonly counts: ItemCounts;
  readonly cursor?: string;
}

/**
 * Sweeps one segment of a table target for one budget.
 *
 * @throws ValidationError when the event names no configured table target of its keyring.
 * @throws ThrottledError / BackendError when records of a page failed temporarily (retry the same event).
 * @example
 * const r = await runReencryptSegment({ keyring: 'pii', table: 'app-records', mode: 'rewrap', segment: 0, totalSegments: 8 }, context, { maxRecords: 2000 });
 * if (r.cursor !== undefined) await runReencryptSegment(r, context, { maxRecords: 2000 });
 */
export async function runReencryptSegment(event: SegmentEvent, context: JobContext<SegmentServices>, budget: SegmentBudget): Promise<SegmentResponse> {
  const { keyring, table, mode, version, segment, totalSegments } = event;
  const target = (context.services.tableTargets ?? []).find((t) => t.target.keyring === keyring && t.target.table === table);
  if (target === undefined) throw new ValidationError(`segment event: table is not a configured table target of keyring '${keyring}'`);
  const catalog = await context.services.keyrings.get(keyring);
  const active = activeVersion(catalog)?.version;
  const base = { keyring, table, mode, ...(version === undefined ? {} : { version }), segment, totalSegments };
  let counts: ItemCounts = event.counts ?? { done: 0, skipped: 0, failed: 0 };
  // Nothing can move without an active version (and a rewrap has no version to go below).
  if (active === undefined) return { ...base, counts };

  // The batch path's migration takes an S3-shaped target: a table's record ids are its keys.
  const asTarget: TargetStore = { target: { keyring, bucket: table, prefix: '' }, store: target.store };
  const pageLimit = budget.pageLimit ?? DEFAULT_SEGMENT_PAGE;
  const startMs = budget.remainingMs?.();
  const keep = budget.keepFraction ?? DEFAULT_KEEP_FRACTION;
  const filter = mode === 'reencrypt' && version !== undefined ? { originAtMost: version } : { belowVersion: active };
  let cursor = event.cursor;
  let handled = 0;
  for (;;) {
    const limit = Math.max(1, Math.min(pageLimit, budget.maxRecords - handled));
    const page = await target.store.scanSegment(keyring, { segment, totalSegments, limit, ...filter, ...(cursor === undefined ? {} : { cursor }) });
    if (page.items.length > 0) {
      const results = await migrateItems(catalog, asTarget, page.items.map((r) => r.id), mode, version, context);
      throwIfRetryable(results);
      logPermanentFailures(context, keyring, table, results);
      counts = add(counts, results);
      handled += results.length;
    }
    // Only now does the resume point move past this page: a throw above retries it whole.
    cursor = page.cursor;
    if (cursor === undefined) return { ...base, counts };
    if (handled >= budget.maxRecords) break;
    if (startMs !== undefined && budget.remainingMs !== undefined && budget.remainingMs() < startMs * keep) break;
  }
  context.logger.info('segment paused', { keyring, table, segment, totalSegments, handled });
  return { ...base, counts, cursor };
}

/** As the batch path: a page with temporary failures is retried whole; its done records are skipped next time. */
function throwIfRetryable(results: readonly ItemResult[]): void {
  const retryable = results.filter((r) => r.status === 'failed' && r.retryable === true);
  if (retryable.length === 0) return;
  const message = `reencrypt: ${retryable.length} of ${results.length} record(s) failed temporarily; retrying the page`;
  throw retryable.every((r) => r.reason === 'throttled' || r.reason === 'THROTTLED') ? new ThrottledError(message) : new BackendError(message);
}

/** Permanent failures stay under their old version; the segment goes on, their ids go to the log. */
function logPermanentFailures(context: JobContext<SegmentServices>, keyring: string, table: string, results: readonly ItemResult[]): void {
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length > 0) context.logger.warn('records not migrated', { keyring, table, failed: failed.slice(0, 20).map((r) => ({ id: r.key, reason: r.reason })) });
}

function add(counts: ItemCounts, results: readonly ItemResult[]): ItemCounts {
  return {
    done: counts.done + results.filter((r) => r.status === 'done').length,
    skipped: counts.skipped + results.filter((r) => r.status === 'skipped').length,
    failed: counts.failed + results.filter((r) => r.status === 'failed').length,
  };
}

/** Limits of one invocation of the reencrypt function, for its segment events. */
export interface FunctionBudget {
  /** Records one segment invocation handles at most. @default DEFAULT_SEGMENT_RECORDS */
  readonly segmentRecords?: number;
  /** Index entries per scan page of a segment invocation. @default DEFAULT_SEGMENT_PAGE */
  readonly segmentPageLimit?: number;
  /** Milliseconds left to the invocation (undefined outside Lambda). */
  readonly remainingMs?: () => number | undefined;
}

/**
 * The reencrypt function's job: a segment event (it names a `table`) goes to the segment worker
 * with the invocation's budget, every other event to the batch worker.
 *
 * @example
 * await runReencryptFunction(event, context, { remainingMs: () => 600_000 });
 */
export function runReencryptFunction(
  event: ReencryptFunctionEvent,
  context: JobContext<SegmentServices>,
  budget: FunctionBudget = {},
): Promise<MapBatchResponse | S3BatchResponse | SegmentResponse | CensusCloseOutcome> {
  if ('census' in event) {
    const census = context.services.censusClose;
    if (census === undefined) throw new ValidationError('census event: this function keeps no census');
    return runCensusClose(event, { ...context, services: { ...census, recordTargets: context.services.recordTargets } });
  }
  if (!('table' in event)) return runReencrypt(event, context);
  const clock = budget.remainingMs;
  const probe = clock === undefined ? undefined : clock();
  return runReencryptSegment(event, context, {
    maxRecords: budget.segmentRecords ?? DEFAULT_SEGMENT_RECORDS,
    ...(budget.segmentPageLimit === undefined ? {} : { pageLimit: budget.segmentPageLimit }),
    ...(clock === undefined || probe === undefined ? {} : { remainingMs: () => clock() ?? 0 }),
  });
}
