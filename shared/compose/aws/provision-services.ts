/**
 * The services of the `provision` function: the keyrings over KMS, S3 and the audit sinks,
 * nothing else (creating a keyring generates its first version key wrapped only; updating a
 * policy touches the catalog alone).
 */
import type { RekeyConfig } from '../../config/load-config';
import type { ProvisionServices } from '../../usecases/provision';
import type { FunctionServices } from './rekey-services';
import { buildAwsCore, type BuildAwsServicesOptions } from './aws-core';
import { NoLifecycleFacts } from './no-lifecycle-facts';

/**
 * Builds what the provision job uses. Nothing connects until first used.
 *
 * @example
 * const services = buildProvisionServices(loadConfig(), { logger });
 * await services.keyrings.updatePolicy('payments', policy, { actor: 'cloudformation:Pii' });
 */
export function buildProvisionServices(config: RekeyConfig, options: BuildAwsServicesOptions = {}): FunctionServices<ProvisionServices> {
  const core = buildAwsCore(config, options);
  return { config, clock: core.clock, kmsCalls: core.kmsCalls, keyrings: core.keyringsWith(new NoLifecycleFacts('provision')), close: async () => undefined };
}
