/**
 * The part of the AWS wiring every rekey function shares: KMS and S3 clients, the key vault,
 * the catalog store with the revocation ledger laid over it (every catalog read on AWS honours
 * the ledger's marks: shared/catalog/sticky-revocations.ts), the audit sinks (EventBridge, plus
 * the function's logger) and the KeyringService over them. Per-function builders add only what their job uses on top, so a
 * function's bundle carries no SDK client or driver it never calls.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { Logger } from '@aws-lambda-powertools/logger';
import { KmsKeyVault } from '../../adapters/aws/kms-key-vault';
import { S3CatalogStore } from '../../adapters/aws/s3-catalog-store';
import { S3RevocationLedger } from '../../adapters/aws/s3-revocation-ledger';
import { StickyRevocationCatalogStore } from '../../catalog/sticky-revocations';
import type { CatalogStore } from '../../ports/catalog-store';
import type { RevocationLedger } from '../../ports/revocation-ledger';
import type { FactsSource } from '../../ports/facts-source';
import { KeyringService } from '../../catalog/keyring-service';
import type { RekeyConfig } from '../../config/load-config';
import type { AuditSink } from '../../ports/audit-sink';
import type { KeyVault } from '../../ports/key-vault';
import { CompositeAuditSink } from '../../adapters/audit/composite-audit-sink';
import { EventBridgeAuditSink } from '../../adapters/aws/eventbridge-audit-sink';
import { countCalls, type CallCounter } from '../../adapters/aws/kms-call-counter';
import { LoggerAuditSink } from '../../adapters/audit/logger-audit-sink';
import { FUNCTION_SDK_TIMEOUTS, newSdkClient } from '../../adapters/aws/sdk-client-options';

/** SDK clients to use instead of default ones. */
export interface AwsClients {
  readonly kms?: KMSClient;
  readonly s3?: S3Client;
  readonly eventBridge?: EventBridgeClient;
  readonly cloudWatch?: CloudWatchClient;
  readonly sfn?: SFNClient;
  readonly elastiCache?: ElastiCacheClient;
  /** The census's loss queues (compose/aws/census-counts.ts). */
  readonly sqs?: SQSClient;
}

/** Options of the service builders beyond the configuration. */
export interface BuildAwsServicesOptions {
  readonly clients?: AwsClients;
  /** Also writes audit events to this logger (the functions pass theirs). */
  readonly logger?: Pick<Logger, 'info'>;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

/** The shared part of every AWS service set. */
export interface AwsCore {
  readonly config: RekeyConfig;
  readonly options: BuildAwsServicesOptions;
  /** `{ region }` when configured, else `{}` (the SDK's own resolution). */
  readonly region: { readonly region?: string };
  readonly clock: () => Date;
  readonly kms: KMSClient;
  readonly s3: S3Client;
  readonly kmsCalls: CallCounter;
  readonly vault: KeyVault;
  /** The catalogs as every reader must see them: the ledger's marks applied, writes guarded. */
  readonly catalogs: CatalogStore;
  /** The revocation ledger (Object Lock marks under `revocations/` in the escrow bucket). */
  readonly ledger: RevocationLedger;
  readonly audit: AuditSink;
  /** A KeyringService over this core, with the lifecycle facts the caller can supply. */
  keyringsWith(facts: FactsSource): KeyringService;
  /**
   * A KeyringService for the revocation itself: reads the documents as stored (it must see the
   * version it has just marked as not yet revoked there, to write the revocation and its
   * replacement), writes still guarded by the ledger.
   */
  revokingKeyringsWith(facts: FactsSource): KeyringService;
}

/**
 * Builds the shared core from `config`. Nothing connects until first used.
 *
 * @example
 * const core = buildAwsCore(loadConfig(), { logger });
 * const keyrings = core.keyringsWith(facts);
 */
export function buildAwsCore(config: RekeyConfig, options: BuildAwsServicesOptions = {}): AwsCore {
  const region = config.region === undefined ? {} : { region: config.region };
  const clients = options.clients ?? {};
  const kms = clients.kms ?? newSdkClient(KMSClient, { ...region }, FUNCTION_SDK_TIMEOUTS);
  const s3 = clients.s3 ?? newSdkClient(S3Client, { ...region }, FUNCTION_SDK_TIMEOUTS);
  const eventBridge = clients.eventBridge ?? newSdkClient(EventBridgeClient, { ...region }, FUNCTION_SDK_TIMEOUTS);
  const clock = options.clock ?? (() => new Date());
  // MRK-aware: a multi-Region key the catalog names by another Region's ARN is called as this Region's replica.
  const vault = new KmsKeyVault({ client: kms, ...region });
  const documents = new S3CatalogStore({ client: s3, bucket: config.catalogBucket, prefix: config.catalogPrefix });
  const ledger = new S3RevocationLedger({ client: s3, bucket: config.escrowBucket });
  const catalogs = new StickyRevocationCatalogStore({ store: documents, ledger });
  const revoking = new StickyRevocationCatalogStore({ store: documents, ledger, reads: 'raw' });
  const sinks: AuditSink[] = [new EventBridgeAuditSink({ client: eventBridge, eventBusName: config.eventBusName })];
  if (options.logger !== undefined) sinks.push(new LoggerAuditSink(options.logger));
  const audit = new CompositeAuditSink(sinks);
  return {
    config,
    options,
    region,
    clock,
    kms,
    s3,
    kmsCalls: countCalls(kms),
    vault,
    catalogs,
    ledger,
    audit,
    keyringsWith: (facts) => new KeyringService({ store: catalogs, vault, audit, clock, facts, wrappingKeyIdFor: (keyring) => config.keyringKeys[keyring] }),
    revokingKeyringsWith: (facts) => new KeyringService({ store: revoking, vault, audit, clock, facts, wrappingKeyIdFor: (keyring) => config.keyringKeys[keyring] }),
  };
}
