/**
 * The `reencrypt` Lambda function. Sweep worker: migrates one Step Functions Distributed Map batch or one S3 Batch Operations task list, with a result per object,
 * or one budgeted run of one parallel-scan segment of a DynamoDB table target (returning a cursor while the segment is unfinished).
 * Thin by design: validation, wiring, metrics and error mapping live in shared/lambda (the handler kit), shared/usecases and shared/compose/aws.
 */
import { createHandler, defaultHandlerDeps, type HandlerDeps } from '../../shared/lambda/create-handler';
import { remainingTimeProbe } from '../../shared/lambda/middleware/remaining-time';
import type { FunctionServices } from '../../shared/compose/aws/rekey-services';
import { buildReencryptServices } from '../../shared/compose/aws/reencrypt-services';
import { reencryptFunctionEventSchema } from '../../shared/vocabulary/event-schemas';
import { runReencryptFunction, type SegmentServices } from '../../shared/usecases/reencrypt-segment';

/** Options of {@link createReencryptHandler}. */
export interface ReencryptHandlerOptions {
  /** Records one segment invocation handles at most. @default DEFAULT_SEGMENT_RECORDS */
  readonly segmentRecords?: number;
  /** Index entries per scan page of a segment invocation. @default DEFAULT_SEGMENT_PAGE */
  readonly segmentPageLimit?: number;
}

/**
 * Builds the handler over injected dependencies (tests pass services built on moto_server).
 * A segment event (it names a `table`) goes to the segment worker with the invocation's time
 * budget; every other event to the batch worker.
 *
 * @example
 * const handler = createReencryptHandler(deps);
 */
export function createReencryptHandler(deps: HandlerDeps<FunctionServices<SegmentServices>>, options: ReencryptHandlerOptions = {}) {
  const probe = remainingTimeProbe();
  return createHandler({
    name: 'reencrypt',
    schema: reencryptFunctionEventSchema,
    deps,
    run: (event, context) => runReencryptFunction(event, context, { ...options, remainingMs: probe.remainingMs }),
  }).use(probe.middleware);
}

/** The Lambda entry point, on the services of this function only (S3 and DynamoDB targets). */
export const handler = createReencryptHandler(defaultHandlerDeps('reencrypt', buildReencryptServices));
