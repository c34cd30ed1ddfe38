/**
 * The services of the `reencrypt` function: the keyrings, the record targets, and the key
 * provider with its envelope client.
 */
import type { RekeyConfig } from '../../config/load-config';
import type { FunctionServices } from './rekey-services';
import type { ReencryptServices } from '../../usecases/reencrypt';
import { buildAwsCore, type BuildAwsServicesOptions } from './aws-core';
import { buildKeyProvider } from './key-provider-wiring';
import { NoLifecycleFacts } from './no-lifecycle-facts';
import { buildRecordTargets } from './s3-stores';

/**
 * Builds what the reencrypt job uses. Nothing connects until first used.
 *
 * @example
 * const services = buildReencryptServices(loadConfig(), { logger });
 * await services.recordTargets[0]?.store.countByVersion('payments');
 */
export function buildReencryptServices(config: RekeyConfig, options: BuildAwsServicesOptions = {}): FunctionServices<ReencryptServices> {
  const core = buildAwsCore(config, options);
  const { provider, envelopes } = buildKeyProvider(core);
  return {
    config,
    clock: core.clock,
    kmsCalls: core.kmsCalls,
    keyrings: core.keyringsWith(new NoLifecycleFacts('reencrypt')),
    recordTargets: buildRecordTargets(core),
    provider,
    envelopes,
    close: async () => undefined,
  };
}
