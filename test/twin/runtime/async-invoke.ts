/**
 * Lambda's asynchronous invocation: the retry loop and the failure destination.
 *
 * From "How Lambda handles errors and retries with asynchronous invocation"
 * (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html): on a
 * function error Lambda runs the function two more times by default (MaximumRetryAttempts of
 * the EventInvokeConfig, 0-2), waiting one minute before the first retry and two minutes before
 * the second; function errors include runtime errors such as timeouts. Throttles (429) go back
 * to the queue and are retried for up to the maximum event age (6 hours by default) without
 * counting as retries. An event older than MaximumEventAgeInSeconds is discarded.
 * From "Capturing records of Lambda asynchronous invocations"
 * (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html): the
 * on-failure destination receives the invocation record (version, timestamp, requestContext
 * {requestId, functionArn, condition, approximateInvokeCount}, requestPayload, responseContext
 * {statusCode, executedVersion, functionError}, responsePayload); for SQS it is the message body.
 * With reserved concurrency 0 Lambda sends new events to the on-failure destination without any
 * retries (same page, note); the record of that case is not shown in the documentation: the twin
 * sends `RetriesExhausted` with approximateInvokeCount 0 and the 429 as responseContext.
 * The retries' waits are simulated, not slept: each retry runs at once in real time, with its
 * simulated clock (the function's Date, its metrics' timestamps) at the first attempt's time plus
 * the documented cumulative wait (1 min, then 3 min), so a function that fails until a simulated
 * instant (e.g. "settling until revokedAt + 60 s") succeeds on the retry that comes after it, as on
 * AWS. The twin's own clock is not moved: the retry is not scheduled work on the twin's timeline
 * (callers await the whole event, and settle() waits for it), a documented simplification.
 */
import type { TwinFunction } from '../world';
import type { AsyncAttempt, AsyncOutcome, InvocationRecord, InvokeOutcome } from './types';

const RETRY_DELAYS_MS = [60_000, 120_000];
const DEFAULT_MAX_EVENT_AGE_S = 21_600;

/** What {@link runAsyncInvocation} needs from the runtime. */
export interface AsyncInvocationDeps {
  readonly fn: TwinFunction;
  readonly event: unknown;
  readonly requestId: string;
  /** Simulated now. */
  readonly now: () => number;
  /**
   * One attempt (same request id every time, as Lambda retries the same event), started at the
   * simulated instant `at` (ms since the epoch; never before the twin's now).
   */
  readonly attempt: (at: number) => Promise<InvokeOutcome>;
  /** Resolves when the function may have capacity again (an invocation ended). */
  readonly capacityFreed: () => Promise<void>;
  /** Sends the record to the destination; throws when the send fails (denied, missing queue). */
  readonly deliver: (destinationArn: string, record: InvocationRecord) => Promise<void>;
}

/**
 * Runs an event to completion: attempts, retries, and the failure destination.
 *
 * @example
 * const outcome = await runAsyncInvocation({ fn, event, requestId, now, attempt, capacityFreed, deliver });
 */
export async function runAsyncInvocation(deps: AsyncInvocationDeps): Promise<AsyncOutcome> {
  const { fn, event, requestId } = deps;
  const maxRetries = fn.asyncConfig?.maximumRetryAttempts ?? 2;
  const maxAgeMs = (fn.asyncConfig?.maximumEventAgeInSeconds ?? DEFAULT_MAX_EVENT_AGE_S) * 1000;
  const attempts: AsyncAttempt[] = [];
  let throttles = 0;
  let ageMs = 0;
  let delay = 0;
  let last: InvokeOutcome | undefined;
  let condition: AsyncOutcome['condition'];
  // The event's age is counted from when Lambda queued it: every retry runs that much later.
  const queuedAt = deps.now();
  for (;;) {
    const outcome = await deps.attempt(queuedAt + ageMs);
    if (outcome.statusCode === 429) {
      throttles += 1;
      last = outcome;
      if (fn.reservedConcurrency === 0) {
        condition = 'RetriesExhausted';
        break;
      }
      await deps.capacityFreed();
      continue;
    }
    attempts.push({ attempt: attempts.length + 1, simulatedDelayMs: delay, outcome });
    last = outcome;
    if (outcome.functionError === undefined) {
      return { requestId, functionName: fn.name, statusCode: 202, attempts, succeeded: true, throttles };
    }
    if (attempts.length > maxRetries) {
      condition = 'RetriesExhausted';
      break;
    }
    delay = RETRY_DELAYS_MS[attempts.length - 1] ?? RETRY_DELAYS_MS[RETRY_DELAYS_MS.length - 1]!;
    if (ageMs + delay > maxAgeMs) {
      condition = 'EventAgeExceeded';
      break;
    }
    ageMs += delay;
  }
  const base = { requestId, functionName: fn.name, statusCode: 202 as const, attempts, succeeded: false, condition, throttles };
  const destinationArn = fn.asyncConfig?.onFailureArn;
  if (destinationArn === undefined) return base;
  const record = invocationRecord(fn, requestId, event, condition, attempts.length, last, Math.max(deps.now(), queuedAt + ageMs));
  try {
    await deps.deliver(destinationArn, record);
    return { ...base, destination: { arn: destinationArn, record, delivered: true } };
  } catch (err) {
    return { ...base, destination: { arn: destinationArn, record, delivered: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) } };
  }
}

function invocationRecord(
  fn: TwinFunction,
  requestId: string,
  event: unknown,
  condition: 'RetriesExhausted' | 'EventAgeExceeded',
  invokeCount: number,
  last: InvokeOutcome | undefined,
  at: number,
): InvocationRecord {
  return {
    version: '1.0',
    timestamp: new Date(at).toISOString(),
    requestContext: { requestId, functionArn: `${fn.arn}:$LATEST`, condition, approximateInvokeCount: invokeCount },
    requestPayload: event,
    responseContext: {
      statusCode: last?.statusCode ?? 200,
      executedVersion: '$LATEST',
      ...(last?.functionError === undefined ? {} : { functionError: last.functionError }),
    },
    responsePayload: last?.payload ?? null,
  };
}
