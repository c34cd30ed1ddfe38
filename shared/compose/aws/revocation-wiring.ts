/**
 * Emergency revocation on AWS: the revocation sequence over the keyrings, the key provider, the
 * cache, and a sweeper that migrates small targets inline and hands large ones to the Step
 * Functions Distributed Map (when a state machine is configured).
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
import { recordCounts } from './s3-stores';

/** What the revocation works with besides the core. */
export interface RevocationParts extends KeyProviderParts {
  readonly keyrings: KeyringService;
  readonly recordTargets: readonly TargetStore[];
  readonly cache?: CacheStore;
}

/**
 * Builds the emergency revocation.
 *
 * @example
 * const revocation = buildRevocation(core, { keyrings, provider, envelopes, recordTargets, cache });
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
  return new EmergencyRevocation({
    keyrings: parts.keyrings,
    provider,
    cache: cache ?? { invalidateVersion: async () => 0 },
    sweeper: new TargetSweeper({ targets: recordTargets, envelopes, versions: provider, ...(starter === undefined ? {} : { starter }), inlineLimit: config.inlineSweepLimit }),
    checkpoints: new MemoryCheckpointStore(),
    records: recordCounts(recordTargets),
    audit: core.audit,
    clock: core.clock,
  });
}
