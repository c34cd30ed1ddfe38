/**
 * The `grace-period` Lambda function. Scheduled reconciler: circuit-breaker check, then every due lifecycle transition, then the version distribution metrics.
 * Thin by design: validation, wiring, metrics and error mapping live in shared/lambda (the handler kit), shared/usecases and shared/compose/aws.
 */
import { createHandler, defaultHandlerDeps, type HandlerDeps } from '../../shared/lambda/create-handler';
import type { FunctionServices } from '../../shared/compose/aws/rekey-services';
import { buildGracePeriodServices } from '../../shared/compose/aws/grace-period-services';
import { gracePeriodEventSchema } from '../../shared/vocabulary/event-schemas';
import { runGracePeriod, type GracePeriodServices } from '../../shared/usecases/reconcile';

/**
 * Builds the handler over injected dependencies (tests pass services built on moto_server).
 *
 * @example
 * const handler = createGracePeriodHandler(deps);
 */
export function createGracePeriodHandler(deps: HandlerDeps<FunctionServices<GracePeriodServices>>) {
  return createHandler({ name: 'grace-period', schema: gracePeriodEventSchema, deps, run: runGracePeriod });
}

/** The Lambda entry point, on the services of this function only. */
export const handler = createGracePeriodHandler(defaultHandlerDeps('grace-period', buildGracePeriodServices));
