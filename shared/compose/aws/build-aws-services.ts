/**
 * Wiring on AWS: every adapter and service from configuration, for the CLI's AWS mode and the
 * tests. The Lambda functions use their own builders (./<function>-services.ts: the same parts,
 * only those their use case declares), so each bundle carries only the SDK clients and drivers
 * it calls. SDK clients
 * are injectable (tests point them at moto_server or wrap them with fault injection); by
 * default each is created once with the configured region and the SDK's standard retry with
 * backoff and jitter.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { RekeyConfig } from '../../config/load-config';
import { CloudWatchBreakerFacts } from '../../adapters/aws/cloudwatch-breaker-facts';
import type { RekeyServices } from './rekey-services';
import { buildAwsCache } from './aws-cache';
import { buildAwsCore, type AwsClients, type BuildAwsServicesOptions } from './aws-core';
import { buildEscrowService } from './escrow-wiring';
import { buildKeyProvider } from './key-provider-wiring';
import { buildLifecycleFacts } from '../lifecycle-facts';
import { buildKeyUseLog } from './key-use-services';
import { buildRevocation } from './revocation-wiring';
import { buildEscrowStore, buildRecordTargets } from './s3-stores';
import { allRecordCounts, buildTableTargets } from './dynamodb-stores';
import { censusOptions } from './census-counts';
import { FUNCTION_SDK_TIMEOUTS, newSdkClient } from '../../adapters/aws/sdk-client-options';

export type { AwsClients, BuildAwsServicesOptions };

/**
 * Builds every adapter and service from `config`. Nothing connects until first used.
 *
 * @example
 * const services = buildAwsServices(loadConfig(), { logger });
 * await services.keyrings.tick();
 */
export function buildAwsServices(config: RekeyConfig, options: BuildAwsServicesOptions = {}): RekeyServices {
  const core = buildAwsCore(config, options);
  const { cache, close } = buildAwsCache(config, options.clients);
  const recordTargets = buildRecordTargets(core);
  const tableTargets = buildTableTargets(config);
  const escrowStore = buildEscrowStore(core);
  const withCache = cache === undefined ? {} : { cache };
  // The operator's role may only read the key-use log: starting one is denied, and then the log cannot say since when (the safe answer).
  const recordCounts = allRecordCounts(recordTargets, tableTargets, censusOptions(core));
  const facts = buildLifecycleFacts({ records: recordCounts, ...withCache, escrowStore, keyUse: buildKeyUseLog(config, core.s3, { clock: core.clock }) });
  const keyrings = core.keyringsWith(facts);
  const { provider, envelopes } = buildKeyProvider(core);
  const cloudWatch = options.clients?.cloudWatch ?? newSdkClient(CloudWatchClient, { ...core.region }, FUNCTION_SDK_TIMEOUTS);
  return {
    config,
    clock: core.clock,
    catalogs: core.catalogs,
    keyrings,
    audit: core.audit,
    provider,
    envelopes,
    recordTargets,
    tableTargets,
    recordCounts,
    escrow: buildEscrowService(core, escrowStore),
    escrowStore,
    retiredKeysReadable: false,
    ...withCache,
    breakerFacts: new CloudWatchBreakerFacts({ client: cloudWatch, now: core.clock }),
    // What status shows as last use: read-only (startOnRead false), so reading it writes nothing.
    keyUse: buildKeyUseLog(config, core.s3, { startOnRead: false, clock: core.clock }),
    revocation: buildRevocation(core, { keyrings: core.revokingKeyringsWith(facts), provider, envelopes, recordTargets, ...withCache }),
    kmsCalls: core.kmsCalls,
    close,
  };
}
