/**
 * The use cases over a local rekey home: the same service sets the Lambda functions get from
 * shared/compose/aws, provided by the local adapters (SQLite catalog, records and checkpoints,
 * the key file, file escrow, the memory or Redis cache, the JSONL audit), so the CLI and
 * `npm start` run exactly the code the Lambdas run. Where AWS has CloudWatch for the circuit
 * breaker, local mode has no record of decrypt outcomes (NoDecryptFacts); the SQLite record
 * store is the one record target of every keyring.
 */
import { CONFIG_DEFAULTS } from '../../config/load-config';
import type { JobContext } from '../../usecases/context';
import type { CacheInvalidateServices } from '../../usecases/cache-invalidate';
import type { EscrowServices } from '../../usecases/escrow';
import type { KeyringStatusServices } from '../../usecases/keyring-status';
import type { GracePeriodServices } from '../../usecases/reconcile';
import type { RevokeServices } from '../../usecases/revoke';
import type { RotateServices } from '../../usecases/rotate';
import type { SweepKeyringServices } from '../../usecases/sweep-keyring';
import { DebugLogger } from './debug-logger';
import { DiscardMetrics } from './discard-metrics';
import type { LocalServices } from './local-services';
import { NoDecryptFacts } from './no-decrypt-facts';

/** Every service set a local command hands to a use case. */
export type LocalJobServices = RotateServices &
  GracePeriodServices &
  RevokeServices &
  EscrowServices &
  CacheInvalidateServices &
  KeyringStatusServices &
  SweepKeyringServices;

/** Options of {@link localJobContext}. */
export interface LocalJobOptions {
  /** The use cases' clock (`tick --at`). @default the home's clock */
  readonly clock?: () => Date;
  /** Log the use cases' structured lines to stderr. @default REKEY_DEBUG=1 */
  readonly debug?: boolean;
}

/**
 * The context a local command runs a use case in: the home's services, a logger that stays off
 * stdout and stderr unless debugging, metrics dropped, and the home's actor in the audit trail.
 *
 * @example
 * const rk = await openLocal({ home });
 * await runEscrow({ action: 'archive' }, localJobContext(rk));
 */
export function localJobContext(rk: LocalServices, options: LocalJobOptions = {}): JobContext<LocalJobServices> {
  const services: LocalJobServices = {
    keyrings: rk.keyrings,
    catalogs: rk.catalogs,
    clock: options.clock ?? rk.clock,
    config: { breakerThreshold: CONFIG_DEFAULTS.breakerThreshold },
    breakerFacts: new NoDecryptFacts(),
    revocation: rk.revocation,
    escrow: rk.escrow,
    // The key file unwraps every version until it is destroyed; no grant withdraws it.
    retiredKeysReadable: true,
    audit: rk.audit,
    cache: rk.cacheStore,
    records: rk.records,
    sweeper: rk.sweeper,
    checkpoints: rk.checkpoints,
  };
  return {
    services,
    logger: new DebugLogger(options.debug ?? process.env.REKEY_DEBUG === '1'),
    metrics: new DiscardMetrics(),
    functionName: 'cli',
    actor: rk.actor,
  };
}
