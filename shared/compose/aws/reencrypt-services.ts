/**
 * The services of the `reencrypt` function: the keyrings, the record targets, the key provider
 * with its envelope client, and the census step's ports.
 */
import type { RekeyConfig } from '../../config/load-config';
import type { FunctionServices } from './rekey-services';
import type { SegmentServices } from '../../usecases/reencrypt-segment';
import { buildAwsCore, type BuildAwsServicesOptions } from './aws-core';
import { buildKeyProvider } from './key-provider-wiring';
import { NoLifecycleFacts } from './no-lifecycle-facts';
import { buildRecordTargets } from './s3-stores';
import { buildTableTargets } from './dynamodb-stores';
import { buildCensusStore } from './census-counts';
import { S3SweepResults } from '../../adapters/aws/s3-sweep-results';

/**
 * Builds what the reencrypt job uses. Nothing connects until first used.
 *
 * @example
 * const services = buildReencryptServices(loadConfig(), { logger });
 * await services.recordTargets[0]?.store.countByVersion('payments');
 */
export function buildReencryptServices(config: RekeyConfig, options: BuildAwsServicesOptions = {}): FunctionServices<SegmentServices> {
  const core = buildAwsCore(config, options);
  const { provider, envelopes } = buildKeyProvider(core);
  return {
    config,
    clock: core.clock,
    kmsCalls: core.kmsCalls,
    keyrings: core.keyringsWith(new NoLifecycleFacts('reencrypt')),
    recordTargets: buildRecordTargets(core),
    tableTargets: buildTableTargets(config),
    provider,
    envelopes,
    censusClose: { census: buildCensusStore(core), results: new S3SweepResults(core.s3), stateBucket: config.catalogBucket, clock: core.clock },
    close: async () => undefined,
  };
}
