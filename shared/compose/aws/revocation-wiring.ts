/**
 * Emergency revocation on AWS: the revocation sequence over the keyrings, the key provider, the
 * cache, and a sweeper that migrates small targets inline and hands large ones to the Step
 * Functions Distributed Map (when a state machine is configured). Its first step marks the
 * version in the revocation ledger (Object Lock, shared/adapters/aws/s3-revocation-ledger.ts),
 * so that from then on every catalog read of the stack reads the version as revoked, whatever
 * any role writes into the catalog document.
 */
import type { KeyringService } from '../../catalog/keyring-service';
import type { CacheStore } from '../../ports/cache-store';
import { EmergencyRevocation } from '../../reencrypt/emergency-revocation';
import { MemoryCheckpointStore } from '../../adapters/local/memory-checkpoint-store';
import type { SfnSweepStarter } from '../../adapters/aws/sfn-sweep-starter';
import { TargetSweeper } from '../../usecases/target-sweeper';
import type { TargetStore } from '../../ports/target-store';
import type { AwsCore } from './aws-core';
import type { KeyProviderParts } from './key-provider-wiring';
import { allRecordCounts, buildTableTargets } from './dynamodb-stores';

/** What the revocation works with besides the core. */
export interface RevocationParts extends KeyProviderParts {
  /**
   * The keyrings the revocation writes with: `core.revokingKeyringsWith(facts)`, which reads
   * the documents as stored (the version just marked must still look unrevoked there, or no
   * replacement would be written) and guards every write with the ledger.
   */
  readonly keyrings: KeyringService;
  readonly recordTargets: readonly TargetStore[];
  readonly cache?: CacheStore;
}

/**
 * Builds the emergency revocation.
 *
 * @example
 * const revocation = buildRevocation(core, { keyrings: core.revokingKeyringsWith(facts), provider, envelopes, recordTargets, cache });
 * await revocation.revoke('payments', 3, { reason: 'leak', actor: 'event:1' });
 */
export function buildRevocation(core: AwsCore, parts: RevocationParts): EmergencyRevocation {
  const { config } = core;
  const { provider, envelopes, recordTargets, cache } = parts;
  const arn = config.sweepStateMachineArn;
  let opened: Promise<SfnSweepStarter> | undefined;
  // Most revocations sweep inline; the SFN client loads on the first hand-off only.
  const starter: Pick<SfnSweepStarter, 'start'> | undefined =
    arn === undefined
      ? undefined
      : {
          start: async (input) => {
            opened ??= import('./open-sweep-starter').then(({ openSweepStarter }) => openSweepStarter(arn, core.region, core.options.clients?.sfn));
            return (await opened).start(input);
          },
        };
  const tableTargets = buildTableTargets(config);
  const tableStarter =
    arn === undefined
      ? undefined
      : {
          startTable: async (target: Parameters<SfnSweepStarter['startTable']>[0], version: number) => {
            opened ??= import('./open-sweep-starter').then(({ openSweepStarter }) => openSweepStarter(arn, core.region, core.options.clients?.sfn));
            return (await opened).startTable(target, version);
          },
        };
  return new EmergencyRevocation({
    keyrings: parts.keyrings,
    provider,
    cache: cache ?? { invalidateVersion: async () => 0 },
    // The inline sweep re-reads the version states before each batch from the keyrings it
    // revokes with, never from the provider's cached catalog.
    sweeper: new TargetSweeper({
      targets: recordTargets,
      tableTargets,
      ...(tableStarter === undefined ? {} : { tableStarter }),
      envelopes,
      versions: provider,
      catalog: parts.keyrings,
      ...(starter === undefined ? {} : { starter }),
      inlineLimit: config.inlineSweepLimit,
    }),
    checkpoints: new MemoryCheckpointStore(),
    records: allRecordCounts(recordTargets, tableTargets),
    ledger: core.ledger,
    // Complete only once every reader's cached catalog (this lifetime) knows of the revocation.
    ...(config.catalogTtlMs === undefined ? {} : { catalogTtlMs: config.catalogTtlMs }),
    audit: core.audit,
    clock: core.clock,
  });
}
