/**
 * The services of the `revoke` function: the emergency revocation over the keyrings (with the
 * full lifecycle facts), the key provider, the cache, the record targets and Step Functions.
 */
import type { RekeyConfig } from '../../config/load-config';
import type { FunctionServices } from './rekey-services';
import type { RevokeServices } from '../../usecases/revoke';
import { buildAwsCache } from './aws-cache';
import { buildAwsCore, type BuildAwsServicesOptions } from './aws-core';
import { buildKeyProvider } from './key-provider-wiring';
import { buildLifecycleFacts } from '../lifecycle-facts';
import { buildKeyUseLog } from './key-use-services';
import { buildRevocation } from './revocation-wiring';
import { buildEscrowStore, buildRecordTargets } from './s3-stores';
import { allRecordCounts, buildTableTargets } from './dynamodb-stores';
import { censusOptions } from './census-counts';

/**
 * Builds what the revoke job uses. Nothing connects until first used.
 *
 * @example
 * const services = buildRevokeServices(loadConfig(), { logger });
 * await services.revocation.revoke('payments', 3, { reason: 'leak', actor: 'event:1' });
 */
export function buildRevokeServices(config: RekeyConfig, options: BuildAwsServicesOptions = {}): FunctionServices<RevokeServices> {
  const core = buildAwsCore(config, options);
  const { cache, close } = buildAwsCache(config, options.clients);
  const recordTargets = buildRecordTargets(core);
  const facts = buildLifecycleFacts({ records: allRecordCounts(recordTargets, buildTableTargets(config), censusOptions(core)), ...(cache === undefined ? {} : { cache }), escrowStore: buildEscrowStore(core), keyUse: buildKeyUseLog(config, core.s3, { clock: core.clock }) });
  const keyrings = core.revokingKeyringsWith(facts);
  const revocation = buildRevocation(core, { keyrings, ...buildKeyProvider(core), recordTargets, ...(cache === undefined ? {} : { cache }) });
  return { config, clock: core.clock, kmsCalls: core.kmsCalls, revocation, close };
}
