/**
 * The `cache-invalidate` Lambda function. Drops the cache entries of versions past their grace period on schedule, or one revoked version at once.
 * Thin by design: validation, wiring, metrics and error mapping live in shared/lambda (the handler kit), shared/usecases and shared/compose/aws.
 */
import { createHandler, defaultHandlerDeps, type HandlerDeps } from '../../shared/lambda/create-handler';
import type { FunctionServices } from '../../shared/compose/aws/rekey-services';
import { buildCacheInvalidateServices } from '../../shared/compose/aws/cache-invalidate-services';
import { cacheInvalidateEventSchema } from '../../shared/vocabulary/event-schemas';
import { runCacheInvalidate, type CacheInvalidateServices } from '../../shared/usecases/cache-invalidate';

/**
 * Builds the handler over injected dependencies (tests pass services built on moto_server).
 *
 * @example
 * const handler = createCacheInvalidateHandler(deps);
 */
export function createCacheInvalidateHandler(deps: HandlerDeps<FunctionServices<CacheInvalidateServices>>) {
  return createHandler({ name: 'cache-invalidate', schema: cacheInvalidateEventSchema, deps, run: runCacheInvalidate });
}

/** The Lambda entry point, on the services of this function only. */
export const handler = createCacheInvalidateHandler(defaultHandlerDeps('cache-invalidate', buildCacheInvalidateServices));
