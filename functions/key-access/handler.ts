/**
 * The `key-access` Lambda function: keeps each keyring's per-version KMS grants equal to what
 * its catalog and the consumer registry allow (shared/usecases/key-access.ts), on a catalog or
 * registry write (S3 `Object Created` through EventBridge), a schedule or a compromise report.
 * Thin by design: the use case (shared/usecases), its services and configuration
 * (shared/compose/aws) and the kit's metrics do the work. It does not use the kit's createHandler on purpose: every failure
 * fails the invocation (a refused event too), because each of its invokers is asynchronous
 * (EventBridge rules, Scheduler) and a failed invocation is what reaches Lambda's retries, the
 * failure queue and the FunctionErrors and DlqNotEmpty alarms; a `{ ok: false }` answer would
 * reach no one.
 */
import { keyAccessServicesFromEnvironment } from '../../shared/compose/aws/key-access-services';
import { BackendError, isRekeyError, summarizeError } from '../../shared/errors';
import { PowertoolsMetricsPublisher, type MetricsPublisher } from '../../shared/lambda/rekey-metrics';
import type { JobContext } from '../../shared/usecases/context';
import { runKeyAccess, type KeyAccessReport, type KeyAccessServices } from '../../shared/usecases/key-access';
import { METRIC } from '../../shared/vocabulary/metric-names';
import { jsonLineLogger } from './json-line-logger';

const FUNCTION_NAME = 'key-access';

/** Injectable dependencies of the handler (tests pass services built on moto_server). */
export interface KeyAccessHandlerDeps {
  /** The services, built on first use (a failed build is retried on the next invocation). */
  readonly services: () => KeyAccessServices | Promise<KeyAccessServices>;
  readonly logger: JobContext<KeyAccessServices>['logger'];
  readonly metrics: MetricsPublisher;
}

/**
 * Builds the handler. Every failure fails the invocation (FunctionErrors; Lambda's retries, then
 * the failure queue); a non-retryable one is also counted in `HandlerFailures` (dimensions
 * `function`, `code`) like every other rekey function (shared/lambda/middleware/map-errors.ts),
 * so the stack's HandlerFailures-key-access alarm watches a metric this function emits.
 *
 * @example
 * const handler = createKeyAccessHandler({ services: () => services, logger, metrics });
 */
export function createKeyAccessHandler(deps: KeyAccessHandlerDeps): (event: unknown) => Promise<KeyAccessReport> {
  const { logger, metrics } = deps;
  return async function keyAccessHandler(event: unknown): Promise<KeyAccessReport> {
    try {
      const services = await deps.services();
      return await runKeyAccess(event, { services, logger, metrics, functionName: FUNCTION_NAME });
    } catch (err) {
      const summary = summarizeError(err);
      if (!summary.retryable) metrics.put(METRIC.handlerFailures, 1, { function: FUNCTION_NAME, code: summary.code });
      // An error of no rekey class is what the invoker retries: named as the BackendError it counts as.
      const name = isRekeyError(err) ? err.name : BackendError.name;
      logger.error('key access failed', { error: { code: summary.code, name, message: summary.message } });
      throw err;
    }
  };
}

/** The Lambda entry point, on the services of this function only (configuration read on the first invocation). */
export const handler = createKeyAccessHandler({
  services: keyAccessServicesFromEnvironment(),
  metrics: new PowertoolsMetricsPublisher({ serviceName: `rekey-${FUNCTION_NAME}` }),
  logger: jsonLineLogger,
});
