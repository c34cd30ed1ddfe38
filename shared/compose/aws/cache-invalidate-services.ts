/**
 * The services of the `cache-invalidate` function: the catalogs (through the keyrings), the
 * cache, and the audit sinks.
 */
import type { RekeyConfig } from '../../config/load-config';
import type { FunctionServices } from './rekey-services';
import type { CacheInvalidateServices } from '../../usecases/cache-invalidate';
import { buildAwsCache } from './aws-cache';
import { buildAwsCore, type BuildAwsServicesOptions } from './aws-core';
import { NoLifecycleFacts } from './no-lifecycle-facts';

/**
 * Builds what the cache-invalidate job uses. Nothing connects until first used.
 *
 * @example
 * const services = buildCacheInvalidateServices(loadConfig(), { logger });
 * await services.cache?.invalidateVersion('payments', 3);
 */
export function buildCacheInvalidateServices(config: RekeyConfig, options: BuildAwsServicesOptions = {}): FunctionServices<CacheInvalidateServices> {
  const core = buildAwsCore(config, options);
  const { cache, close } = buildAwsCache(config, options.clients);
  return {
    config,
    clock: core.clock,
    kmsCalls: core.kmsCalls,
    catalogs: core.catalogs,
    audit: core.audit,
    keyrings: core.keyringsWith(new NoLifecycleFacts('cache-invalidate')),
    ...(cache === undefined ? {} : { cache }),
    close,
  };
}
