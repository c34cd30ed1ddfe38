/**
 * The set of adapters and services one rekey process works with, as built by
 * `buildAwsServices` (Lambda functions, CLI AWS mode). Handlers receive it and call the core.
 */
import type { RekeyConfig } from '../../config/load-config';
import type { KeyringService } from '../../catalog/keyring-service';
import type { EnvelopeOps, VersionLookup } from '../../reencrypt/dependencies';
import type { EmergencyRevocation } from '../../reencrypt/emergency-revocation';
import type { EscrowService } from '../../escrow/escrow-service';
import type { EscrowStore } from '../../ports/escrow-store';
import type { AuditSink } from '../../ports/audit-sink';
import type { CacheStore } from '../../ports/cache-store';
import type { KeyUseLog } from '../../ports/key-use-log';
import type { CatalogStore } from '../../ports/catalog-store';
import type { BreakerFactsSource } from '../../ports/breaker-facts-source';
import type { CallCounter } from '../../adapters/aws/kms-call-counter';
import type { TableTargetStore } from '../../ports/table-target-store';
import type { TargetStore } from '../../ports/target-store';

/** Everything a handler may need, wired from configuration. */
export interface RekeyServices {
  readonly config: RekeyConfig;
  readonly clock: () => Date;
  readonly catalogs: CatalogStore;
  readonly keyrings: KeyringService;
  readonly audit: AuditSink;
  /** Version keys and states (CatalogKeyProvider); `invalidate` drops its caches. */
  readonly provider: VersionLookup & { invalidate(keyring?: string): void | Promise<void> };
  readonly envelopes: EnvelopeOps;
  /** One store per configured record target. */
  readonly recordTargets: readonly TargetStore[];
  /** One store per configured DynamoDB table target. */
  readonly tableTargets: readonly TableTargetStore[];
  /** Records per version over every target: S3 targets from their census where usable (./census-counts.ts), tables from their index. */
  readonly recordCounts: { countByVersion(keyring: string): Promise<Map<number, number>> };
  readonly escrow: EscrowService;
  readonly escrowStore: EscrowStore;
  /** False: the escrow role's grants exist only for readable states (see EscrowServices). */
  readonly retiredKeysReadable: false;
  /** Undefined when no cache is configured; connects on first use. */
  readonly cache?: CacheStore;
  readonly breakerFacts: BreakerFactsSource;
  /**
   * Observed key use (the key-use function's documents), read-only: it never starts a keyring's
   * log, because its callers (the CLI's `status`) may only read `key-use/*`; a keyring with no
   * log yet then reads as "not observed since any instant", which is what is known.
   */
  readonly keyUse: Pick<KeyUseLog, 'lastUse' | 'observingSince'>;
  readonly revocation: EmergencyRevocation;
  /** KMS calls made since the last `take()`. */
  readonly kmsCalls: CallCounter;
  /** Closes connections (the Redis client); the services must not be used afterwards. */
  close(): Promise<void>;
}

/** What every function's service set carries besides its job's services. */
export type FunctionBasics = Pick<RekeyServices, 'config' | 'clock' | 'kmsCalls' | 'close'>;

/**
 * The service set of one Lambda function: the services its use case declares (`S`, declared
 * once, in the use case's file), plus what every handler uses (configuration, clock, the KMS
 * call counter, close).
 */
export type FunctionServices<S = unknown> = S & FunctionBasics;
