/**
 * The services of an application that encrypts and decrypts with rekey (shared/app/): the
 * catalog store read through the revocation ledger, the KMS key vault, the key provider with
 * its version-key cache, and the envelope client over them. Only the two SDK clients that path
 * calls (S3, KMS): no EventBridge, no audit sink, no KeyringService, since an application reads
 * catalogs and unwraps version keys but never changes a keyring.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { KmsKeyVault } from '../../adapters/aws/kms-key-vault';
import { S3CatalogStore } from '../../adapters/aws/s3-catalog-store';
import { S3RevocationLedger } from '../../adapters/aws/s3-revocation-ledger';
import { FUNCTION_SDK_TIMEOUTS, newSdkClient } from '../../adapters/aws/sdk-client-options';
import { StickyRevocationCatalogStore } from '../../catalog/sticky-revocations';
import type { RekeyConfig } from '../../config/load-config';
import { EnvelopeClient } from '../../envelope/envelope-client';
import type { DecryptObserver } from '../../envelope/api';
import { CatalogKeyProvider, VersionKeyCache, type VersionKeyCacheOptions } from '../../keys';

/** SDK clients an application may pass instead of the default ones (tests, custom endpoints). */
export interface AppAwsClients {
  readonly kms?: KMSClient;
  readonly s3?: S3Client;
}

/** Options of {@link buildAppClientServices} beyond the configuration. */
export interface AppClientServicesOptions {
  readonly clients?: AppAwsClients;
  /** Told of every in-memory decryption (the decrypt metrics). */
  readonly observer?: DecryptObserver;
  /** How long a catalog read is trusted, in ms. @default config.catalogTtlMs, else 60000 */
  readonly catalogTtlMs?: number;
  /** Bounds of the unwrapped version-key cache. @default VersionKeyCache's defaults (5 min, 2^20 uses, 1000 keys) */
  readonly keyCache?: Omit<VersionKeyCacheOptions, 'clock'>;
}

/** What an application's client runs on. */
export interface AppClientServices {
  readonly envelopes: EnvelopeClient;
  readonly provider: CatalogKeyProvider;
  /** Drops cached catalogs and keys (zeroed) and destroys the SDK clients this builder made. */
  close(): void;
}

/**
 * Builds the envelope client of an application on AWS. Nothing connects until first used.
 * Every catalog read honours the revocation ledger, as every rekey reader on AWS does: a marked
 * version reads as revoked whatever the document says, and an unreadable ledger fails the read
 * (closed), so the role needs ledger read besides its catalog read.
 *
 * @example
 * const { envelopes, close } = buildAppClientServices(loadConfig(env), { observer: decryptMetrics });
 * const envelope = await envelopes.encrypt('pii', Buffer.from('4111'));
 * close();
 */
export function buildAppClientServices(config: RekeyConfig, options: AppClientServicesOptions = {}): AppClientServices {
  const region = config.region === undefined ? {} : { region: config.region };
  const owned: Array<{ destroy(): void }> = [];
  const own = <C extends { destroy(): void }>(client: C): C => {
    owned.push(client);
    return client;
  };
  const kms = options.clients?.kms ?? own(newSdkClient(KMSClient, { ...region }, FUNCTION_SDK_TIMEOUTS));
  const s3 = options.clients?.s3 ?? own(newSdkClient(S3Client, { ...region }, FUNCTION_SDK_TIMEOUTS));
  const documents = new S3CatalogStore({ client: s3, bucket: config.catalogBucket, prefix: config.catalogPrefix });
  const ledger = new S3RevocationLedger({ client: s3, bucket: config.escrowBucket });
  const catalogTtlMs = options.catalogTtlMs ?? config.catalogTtlMs;
  const provider = new CatalogKeyProvider({
    store: new StickyRevocationCatalogStore({ store: documents, ledger }),
    // MRK-aware in the Region of the client made here (an injected client's Region is its own business).
    vault: new KmsKeyVault({ client: kms, ...(options.clients?.kms === undefined ? region : {}) }),
    keyCache: new VersionKeyCache(options.keyCache ?? {}),
    ...(catalogTtlMs === undefined ? {} : { catalogTtlMs }),
  });
  const envelopes = new EnvelopeClient(provider, options.observer === undefined ? {} : { observer: options.observer });
  return {
    envelopes,
    provider,
    close: () => {
      provider.invalidate();
      // Injected clients belong to the caller; only the ones made here are destroyed.
      for (const client of owned.splice(0)) client.destroy();
    },
  };
}
