/**
 * The services of the `escrow` function: the keyrings and the escrow service over KMS and S3,
 * the catalog (a restore compare-and-swaps it) and the audit trail. Retired keys are not
 * readable: the escrow role's grants exist only for readable states.
 */
import type { RekeyConfig } from '../../config/load-config';
import type { FunctionServices } from './rekey-services';
import type { EscrowServices } from '../../usecases/escrow';
import { buildAwsCore, type BuildAwsServicesOptions } from './aws-core';
import { buildEscrowService } from './escrow-wiring';
import { NoLifecycleFacts } from './no-lifecycle-facts';
import { buildEscrowStore } from './s3-stores';

/**
 * Builds what the escrow job uses. Nothing connects until first used.
 *
 * @example
 * const services = buildEscrowServices(loadConfig(), { logger });
 * await services.escrow.verify('payments');
 */
export function buildEscrowServices(config: RekeyConfig, options: BuildAwsServicesOptions = {}): FunctionServices<EscrowServices> {
  const core = buildAwsCore(config, options);
  return {
    config,
    clock: core.clock,
    kmsCalls: core.kmsCalls,
    catalogs: core.catalogs,
    audit: core.audit,
    keyrings: core.keyringsWith(new NoLifecycleFacts('escrow')),
    escrow: buildEscrowService(core, buildEscrowStore(core)),
    retiredKeysReadable: false,
    close: async () => undefined,
  };
}
