/**
 * The escrow service on AWS: version keys archived under the separate escrow KMS key (and
 * optionally an offline RSA key) in the Object Lock bucket.
 */
import type { EscrowStore } from '../../ports/escrow-store';
import { EscrowService } from '../../escrow/escrow-service';
import type { AwsCore } from './aws-core';

/**
 * Builds the escrow service over `store`.
 *
 * @example
 * const escrow = buildEscrowService(core, buildEscrowStore(core));
 * await escrow.verify('payments');
 */
export function buildEscrowService(core: AwsCore, store: EscrowStore): EscrowService {
  const { config } = core;
  return new EscrowService({
    store,
    catalogs: core.catalogs,
    vault: core.vault,
    escrowVault: core.vault,
    escrowWrappingKeyId: config.escrowKeyArn,
    ...(config.escrowRsaPublicKey === undefined ? {} : { rsaPublicKeyPem: config.escrowRsaPublicKey }),
    clock: core.clock,
  });
}
