/**
 * Middy middleware: maps a failed invocation to what its invoker should do. Every failure is
 * loud: each path below ends at an alarm of the stack (infra/constructs/monitoring.ts).
 *
 * - A *deployment fault* ({@link DEPLOYMENT_FAULT_CODES}: access denied, unknown keyring, key
 *   unavailable) fails the invocation: the RekeyError is rethrown unchanged. The stack built the
 *   event and the permissions, so only a human can fix it; a failed invocation reaches the
 *   FunctionErrors alarm, and for asynchronous invokers (Scheduler, EventBridge) Lambda's two
 *   retries (which also ride out IAM propagation right after a deploy) end in the function's
 *   failure queue, alarmed by DlqNotEmpty; in a sweep it fails the map run (SweepStalled).
 * - Any other non-retryable RekeyError is the *caller's fault* (bad input, frozen keyring, illegal
 *   transition, ...): it becomes a structured failure *response*, so nobody replays a call that
 *   cannot succeed and the CLI shows the refusal; it is logged and counted in `HandlerFailures`
 *   (dimensions `function`, `code`), which the stack alarms per function.
 * - A retryable RekeyError (conflict, throttling, backend) is rethrown so Lambda, Scheduler or
 *   Step Functions retries with backoff.
 * - Anything else is a bug or an unmapped backend failure: rethrown as a retryable BackendError
 *   whose message names no internals.
 *
 * Deployment faults are counted in `HandlerFailures` too, so that metric covers every
 * non-retryable failure whatever its path.
 */
import type { MiddlewareObj } from '@middy/core';
import { BackendError, errorName, isRekeyError, type RekeyErrorCode } from '../../errors';
import { METRIC } from '../../vocabulary/metric-names';
import type { MetricsPublisher } from '../rekey-metrics';

/**
 * Non-retryable codes that mean the deployment is broken rather than the request: the caller
 * cannot fix them, so they fail the invocation instead of answering `{ ok: false }`.
 */
export const DEPLOYMENT_FAULT_CODES: ReadonlySet<RekeyErrorCode> = new Set<RekeyErrorCode>(['ACCESS_DENIED', 'UNKNOWN_KEYRING', 'KEY_UNAVAILABLE']);

/** The response of an invocation that failed for good. */
export interface HandlerFailure {
  readonly ok: false;
  readonly error: {
    readonly code: RekeyErrorCode;
    readonly name: string;
    readonly message: string;
    readonly retryable: false;
  };
}

/** Minimal logger the middleware needs. */
export interface ErrorLogger {
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** Options of {@link mapErrors}. */
export interface MapErrorsOptions {
  readonly logger: ErrorLogger;
  readonly metrics?: MetricsPublisher;
  /** Function name, as the `function` dimension of `HandlerFailures`. */
  readonly functionName: string;
}

/**
 * Builds the failure response for a non-retryable RekeyError.
 *
 * @example
 * toHandlerFailure(new ValidationError('invalid event: keyring: must not be empty')).error.code; // 'VALIDATION'
 */
export function toHandlerFailure(err: { code: RekeyErrorCode; name: string; message: string }): HandlerFailure {
  return { ok: false, error: { code: err.code, name: err.name, message: err.message, retryable: false } };
}

/**
 * Creates the error-mapping middleware; register it first so that its `onError` runs last.
 *
 * @example
 * middy(handler).use(mapErrors({ logger, metrics, functionName: 'rotate' })).use(validateEvent({ schema }));
 */
export function mapErrors(options: MapErrorsOptions): MiddlewareObj {
  if (options === null || typeof options !== 'object' || typeof options.logger?.error !== 'function' || typeof options.functionName !== 'string') {
    throw new TypeError('mapErrors: options.logger and options.functionName are required');
  }
  const { logger, metrics, functionName } = options;
  const mapErrorsOnError = (request: { error: unknown; response: unknown }): void => {
    const err = request.error;
    if (isRekeyError(err) && !err.retryable) {
      const error = { code: err.code, name: err.name, message: err.message };
      metrics?.put(METRIC.handlerFailures, 1, { function: functionName, code: err.code });
      if (DEPLOYMENT_FAULT_CODES.has(err.code)) {
        logger.error('invocation failed: the deployment needs fixing; failing the invocation', { error });
        return;
      }
      logger.warn('invocation refused; not retrying', { error });
      request.response = toHandlerFailure(err);
      return;
    }
    if (isRekeyError(err)) {
      logger.error('invocation failed; the invoker will retry', { error: { code: err.code, name: err.name, message: err.message } });
      return;
    }
    const name = errorName(err);
    const message = err instanceof Error ? err.message.slice(0, 300) : '';
    logger.error('invocation failed unexpectedly; the invoker will retry', { error: { name, message } });
    request.error = new BackendError(`${functionName} failed unexpectedly (${name})`, { cause: err });
  };
  return { name: 'mapErrors', onError: mapErrorsOnError };
}
