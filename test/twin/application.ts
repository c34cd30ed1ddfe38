/**
 * An application team's service, as docs/deploy.md tells it to use a keyring: its own role
 * (granted through the stack's `applicationRoleArns`), the catalog read from the stack's outputs,
 * version keys unwrapped by KMS through per-version grants, and its records in its own
 * versioned bucket. Every call goes through the twin's authorizing proxy under that role, on the
 * simulated clock, so a missing permission fails here exactly as it would in the account.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { KmsKeyVault } from '../../shared/adapters/aws/kms-key-vault';
import { S3CatalogStore } from '../../shared/adapters/aws/s3-catalog-store';
import { S3RecordStore, type S3RecordLayout } from '../../shared/adapters/aws/s3-record-store';
import { EnvelopeClient } from '../../shared/envelope/envelope-client';
import { CatalogKeyProvider } from '../../shared/keys/catalog-key-provider';
import { RecordService } from '../../shared/reencrypt/record-service';
import type { SimClock, TwinRole } from './world';

/** Where the application's records live and which stack it reads. */
export interface ApplicationOptions {
  readonly role: TwinRole;
  readonly proxyUrl: string;
  readonly region: string;
  readonly clock: SimClock;
  readonly catalogBucket: string;
  readonly catalogPrefix: string;
  readonly recordBucket: string;
  readonly recordPrefix: string;
  /** How the application writes its record objects (S3RecordStore `layout`). @default 'body' */
  readonly recordLayout?: S3RecordLayout;
}

/** The application's record service and its SDK clients. */
export interface Application {
  readonly records: RecordService;
  readonly envelopes: EnvelopeClient;
  readonly store: S3RecordStore;
  readonly s3: S3Client;
  readonly kms: KMSClient;
  /** Forgets cached catalogs and keys (a restarted instance). */
  restart(): Application;
}

/** SDK client settings for a role through the proxy, signing at the simulated time. */
export function roleClientConfig(role: TwinRole, proxyUrl: string, region: string, clock: SimClock) {
  return {
    endpoint: proxyUrl,
    region,
    credentials: { accessKeyId: role.accessKeyId, secretAccessKey: role.secretAccessKey },
    // SigV4 signs with the process clock; the twin's world runs on the simulated one.
    systemClockOffset: clock.now() - Date.now(),
    maxAttempts: 2,
  };
}

/**
 * Builds the application's services.
 *
 * @example
 * const app = openApplication({ role, proxyUrl, region, clock, catalogBucket, catalogPrefix, recordBucket, recordPrefix: 'pii/' });
 * await app.records.put('pii', 'order-1', Buffer.from('4111'));
 */
export function openApplication(options: ApplicationOptions): Application {
  const config = (): ReturnType<typeof roleClientConfig> => roleClientConfig(options.role, options.proxyUrl, options.region, options.clock);
  const s3 = new S3Client({ ...config(), forcePathStyle: true });
  const kms = new KMSClient(config());
  // The simulated clock moves between calls: keep the signing offset current.
  const resync = (): void => {
    const offset = options.clock.now() - Date.now();
    (s3.config as { systemClockOffset: number }).systemClockOffset = offset;
    (kms.config as { systemClockOffset: number }).systemClockOffset = offset;
  };
  s3.middlewareStack.add((next) => (args) => (resync(), next(args)), { step: 'initialize', name: 'twinClock' });
  kms.middlewareStack.add((next) => (args) => (resync(), next(args)), { step: 'initialize', name: 'twinClock' });
  const clock = (): number => options.clock.now();
  const provider = new CatalogKeyProvider({
    store: new S3CatalogStore({ client: s3, bucket: options.catalogBucket, prefix: options.catalogPrefix }),
    vault: new KmsKeyVault({ client: kms }),
    clock,
  });
  const envelopes = new EnvelopeClient(provider);
  const store = new S3RecordStore({ client: s3, bucket: options.recordBucket, prefix: options.recordPrefix, layout: options.recordLayout });
  const records = new RecordService({ records: store, envelopes, versions: provider });
  return { records, envelopes, store, s3, kms, restart: () => openApplication(options) };
}
