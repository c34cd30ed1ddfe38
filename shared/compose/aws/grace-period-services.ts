/**
 * The services of the `grace-period` function: the keyrings with the full lifecycle facts
 * (records, cache, escrow), the circuit breaker's CloudWatch facts, the record targets and the
 * cache for the version distribution.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { RekeyConfig } from '../../config/load-config';
import { CloudWatchBreakerFacts } from '../../adapters/aws/cloudwatch-breaker-facts';
import type { FunctionServices } from './rekey-services';
import { buildAwsCache } from './aws-cache';
import { buildAwsCore, type BuildAwsServicesOptions } from './aws-core';
import { buildLifecycleFacts } from './lifecycle-facts';
import { buildEscrowStore, buildRecordTargets, recordCounts } from './s3-stores';

/**
 * Builds what the grace-period job uses. Nothing connects until first used.
 *
 * @example
 * const services = buildGracePeriodServices(loadConfig(), { logger });
 * await services.keyrings.tick();
 */
export function buildGracePeriodServices(
  config: RekeyConfig,
  options: BuildAwsServicesOptions = {},
): FunctionServices<'keyrings' | 'breakerFacts' | 'recordTargets' | 'cache'> {
  const core = buildAwsCore(config, options);
  const { cache, close } = buildAwsCache(config, options.clients);
  const recordTargets = buildRecordTargets(core);
  const facts = buildLifecycleFacts({ records: recordCounts(recordTargets), ...(cache === undefined ? {} : { cache }), catalogs: core.catalogs, escrowStore: buildEscrowStore(core) });
  const cloudWatch = options.clients?.cloudWatch ?? new CloudWatchClient({ ...core.region });
  return {
    config,
    clock: core.clock,
    kmsCalls: core.kmsCalls,
    keyrings: core.keyringsWith(facts),
    breakerFacts: new CloudWatchBreakerFacts({ client: cloudWatch, now: core.clock }),
    recordTargets,
    ...(cache === undefined ? {} : { cache }),
    close,
  };
}
