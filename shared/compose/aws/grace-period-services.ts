/**
 * The services of the `grace-period` function: the keyrings with the full lifecycle facts
 * (records, cache, escrow; the same counts feed the version distribution) and the circuit
 * breaker's CloudWatch facts.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { RekeyConfig } from '../../config/load-config';
import { CloudWatchBreakerFacts } from '../../adapters/aws/cloudwatch-breaker-facts';
import type { GracePeriodServices } from '../../usecases/reconcile';
import type { FunctionServices } from './rekey-services';
import { buildAwsCache } from './aws-cache';
import { buildAwsCore, type BuildAwsServicesOptions } from './aws-core';
import { buildLifecycleFacts } from '../lifecycle-facts';
import { buildKeyUseLog } from './key-use-services';
import { buildEscrowStore, buildRecordTargets } from './s3-stores';
import { allRecordCounts, buildTableTargets } from './dynamodb-stores';
import { censusOptions } from './census-counts';
import { FUNCTION_SDK_TIMEOUTS, newSdkClient } from '../../adapters/aws/sdk-client-options';

/**
 * Builds what the grace-period job uses. Nothing connects until first used.
 *
 * @example
 * const services = buildGracePeriodServices(loadConfig(), { logger });
 * await services.keyrings.reconcile();
 */
export function buildGracePeriodServices(config: RekeyConfig, options: BuildAwsServicesOptions = {}): FunctionServices<GracePeriodServices> {
  const core = buildAwsCore(config, options);
  const { cache, close } = buildAwsCache(config, options.clients);
  // A version still referenced by a table record is as alive as one referenced by an object.
  const records = allRecordCounts(buildRecordTargets(core), buildTableTargets(config), censusOptions(core));
  const facts = buildLifecycleFacts({ records, ...(cache === undefined ? {} : { cache }), escrowStore: buildEscrowStore(core), keyUse: buildKeyUseLog(config, core.s3, { clock: core.clock }) });
  const cloudWatch = options.clients?.cloudWatch ?? newSdkClient(CloudWatchClient, { ...core.region }, FUNCTION_SDK_TIMEOUTS);
  return {
    config,
    clock: core.clock,
    kmsCalls: core.kmsCalls,
    keyrings: core.keyringsWith(facts),
    breakerFacts: new CloudWatchBreakerFacts({ client: cloudWatch, now: core.clock }),
    close,
  };
}
