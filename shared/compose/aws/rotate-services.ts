/**
 * The services of the `rotate` function: the keyrings over KMS, S3 and the audit sinks.
 */
import type { RekeyConfig } from '../../config/load-config';
import type { FunctionServices } from './rekey-services';
import type { RotateServices } from '../../usecases/rotate';
import { buildAwsCore, type BuildAwsServicesOptions } from './aws-core';
import { NoLifecycleFacts } from './no-lifecycle-facts';

/**
 * Builds what the rotate job uses. Nothing connects until first used.
 *
 * @example
 * const services = buildRotateServices(loadConfig(), { logger });
 * await services.keyrings.rotate('payments', { actor: 'ops', reason: 'forced' });
 */
export function buildRotateServices(config: RekeyConfig, options: BuildAwsServicesOptions = {}): FunctionServices<RotateServices> {
  const core = buildAwsCore(config, options);
  return { config, clock: core.clock, kmsCalls: core.kmsCalls, keyrings: core.keyringsWith(new NoLifecycleFacts('rotate')), close: async () => undefined };
}
