/**
 * The services of the `escrow` function: the keyrings and the escrow service over KMS and S3.
 */
import type { RekeyConfig } from '../../config/load-config';
import type { FunctionServices } from './rekey-services';
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
export function buildEscrowServices(config: RekeyConfig, options: BuildAwsServicesOptions = {}): FunctionServices<'keyrings' | 'catalogs' | 'escrow' | 'escrowStore'> {
  const core = buildAwsCore(config, options);
  const escrowStore = buildEscrowStore(core);
  return {
    config,
    clock: core.clock,
    kmsCalls: core.kmsCalls,
    catalogs: core.catalogs,
    keyrings: core.keyringsWith(new NoLifecycleFacts('escrow')),
    escrow: buildEscrowService(core, escrowStore),
    escrowStore,
    close: async () => undefined,
  };
}
