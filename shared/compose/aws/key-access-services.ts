/**
 * The services of the `key-access` function: the grants of the keyring keys (KMS), the
 * catalogs (S3, read only) with the revocation ledger over them, the ledger itself, whose
 * marks the grant plan treats as final, and, when the stack sets its consumer accounts and ops
 * key, the consumer registry (S3, read only) with the two bucket-read targets. Nothing else: no
 * audit sink, no cache, so its bundle carries two SDK clients.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { countCalls } from '../../adapters/aws/kms-call-counter';
import { KmsGrantStore } from '../../adapters/aws/kms-grant-store';
import { S3CatalogStore } from '../../adapters/aws/s3-catalog-store';
import { S3ConsumerRegistry } from '../../adapters/aws/s3-consumer-registry';
import { S3RevocationLedger } from '../../adapters/aws/s3-revocation-ledger';
import { StickyRevocationCatalogStore } from '../../catalog/sticky-revocations';
import { bucketArnOf, loadConsumerBound, type ConsumerBound } from '../../config/load-consumer-bound';
import { loadKeyGrantees, type KeyGrantees } from '../../config/load-key-grantees';
import { loadConfig, type RekeyConfig } from '../../config/load-config';
import type { KeyAccessServices, RegistryAccess } from '../../usecases/key-access';
import type { BuildAwsServicesOptions } from './aws-core';
import type { FunctionServices } from './rekey-services';
import { FUNCTION_SDK_TIMEOUTS, newSdkClient } from '../../adapters/aws/sdk-client-options';

/** Options of {@link buildKeyAccessServices}. */
export interface BuildKeyAccessServicesOptions extends BuildAwsServicesOptions {
  /** The grantees. @default read from the environment (REKEY_KEY_GRANTEES, shared/config/load-key-grantees.ts) */
  readonly grantees?: KeyGrantees;
  /**
   * The consumer registry's bound; `null` turns the registry off.
   * @default read from the environment (REKEY_CONSUMER_ACCOUNTS, REKEY_OPS_KEY_ARN, shared/config/load-consumer-bound.ts); off when neither is set
   */
  readonly consumerBound?: ConsumerBound | null;
}

/**
 * Builds what the key-access job uses. Nothing connects until first used.
 *
 * @throws ValidationError when the grantees or the consumer bound are malformed.
 * @example
 * const services = buildKeyAccessServices(loadConfig(), { logger });
 * await services.grants.list(services.keyringKeys['pii'] ?? '');
 */
export function buildKeyAccessServices(config: RekeyConfig, options: BuildKeyAccessServicesOptions = {}): FunctionServices<KeyAccessServices> {
  const grantees = options.grantees ?? loadKeyGrantees();
  const region = config.region === undefined ? {} : { region: config.region };
  const clients = options.clients ?? {};
  const kms = clients.kms ?? newSdkClient(KMSClient, { ...region }, FUNCTION_SDK_TIMEOUTS);
  const s3 = clients.s3 ?? newSdkClient(S3Client, { ...region }, FUNCTION_SDK_TIMEOUTS);
  const ledger = new S3RevocationLedger({ client: s3, bucket: config.escrowBucket });
  const documents = new S3CatalogStore({ client: s3, bucket: config.catalogBucket, prefix: config.catalogPrefix });
  const bound = options.consumerBound === null ? undefined : (options.consumerBound ?? loadConsumerBound());
  // The bucket ARNs in the keys' partition: S3 Bucket Keys pass the bucket ARN as the context.
  const consumers: RegistryAccess | undefined =
    bound === undefined
      ? undefined
      : {
          registry: new S3ConsumerRegistry({ client: s3, bucket: config.catalogBucket }),
          accounts: bound.accounts,
          catalogRead: { keyId: bound.opsKeyArn, bucketArn: bucketArnOf(config.catalogBucket, bound.opsKeyArn) },
          ledgerRead: { keyId: config.escrowKeyArn, bucketArn: bucketArnOf(config.escrowBucket, config.escrowKeyArn) },
        };
  return {
    config,
    clock: options.clock ?? (() => new Date()),
    kmsCalls: countCalls(kms),
    grants: new KmsGrantStore({ client: kms }),
    catalogs: new StickyRevocationCatalogStore({ store: documents, ledger }),
    ledger,
    keyringKeys: config.keyringKeys,
    grantees,
    catalogPrefix: config.catalogPrefix,
    ...(consumers === undefined ? {} : { consumers }),
    close: async () => undefined,
  };
}

/**
 * The production services of the key-access function: on the first call, the configuration
 * from the environment and the services built from it, kept while the execution environment
 * lives; a failed build (bad configuration) is not kept, so the next invocation tries again.
 * The same contract as the kit's defaultHandlerDeps, without the Middy handler's logger, which
 * this function does not use.
 *
 * @example
 * const services = keyAccessServicesFromEnvironment();
 * const { grants } = services();
 */
export function keyAccessServicesFromEnvironment(): () => FunctionServices<KeyAccessServices> {
  let services: FunctionServices<KeyAccessServices> | undefined;
  return () => (services ??= buildKeyAccessServices(loadConfig()));
}
