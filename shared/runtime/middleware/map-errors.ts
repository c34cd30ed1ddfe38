/**
 * Middy middleware: maps a failed invocation to what its invoker should do.
 *
 * - A non-retryable RekeyError (bad input, unknown keyring, frozen, access denied, ...) becomes a
 *   structured failure *response*: the invocation succeeds, so neither Lambda's async retries
 *   nor EventBridge Scheduler replays a call that cannot succeed; the failure is logged and
 *   counted in the `HandlerFailures` metric (alarmed by the stack).
 * - A retryable RekeyError (conflict, throttling, backend) is rethrown so Lambda, Scheduler or
 *   Step Functions retries with backoff.
 * - Anything else is a bug or an unmapped backend failure: rethrown as a retryable BackendError
 *   whose message names no internals.
 */
import type { MiddlewareObj } from '@middy/core';
import { BackendError, isRekeyError, type RekeyErrorCode } from '../../errors';
import { METRIC } from '../metric-names';
import type { MetricsPublisher } from '../rekey-metrics';

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
      logger.warn('invocation failed; not retrying', { error: { code: err.code, name: err.name, message: err.message } });
      metrics?.put(METRIC.handlerFailures, 1, { function: functionName, code: err.code });
      request.response = toHandlerFailure(err);
      return;
    }
    if (isRekeyError(err)) {
      logger.error('invocation failed; the invoker will retry', { error: { code: err.code, name: err.name, message: err.message } });
      return;
    }
    const name = err instanceof Error ? err.name : typeof err;
    const message = err instanceof Error ? err.message.slice(0, 300) : '';
    logger.error('invocation failed unexpectedly; the invoker will retry', { error: { name, message } });
    request.error = new BackendError(`${functionName} failed unexpectedly (${name})`, { cause: err });
  };
  return { name: 'mapErrors', onError: mapErrorsOnError };
}
