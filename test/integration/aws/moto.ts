/**
 * Clients and fresh names for the integration tests against the moto_server started by jest's
 * globalSetup. Every test creates its own buckets and keys, never resets the shared server.
 */
import { randomBytes } from 'node:crypto';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import type { Catalog, KeyVersion } from '../../../shared/catalog/model';

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

function endpoint(): string {
  const url = process.env.REKEY_TEST_MOTO_URL;
  if (url === undefined) throw new Error('REKEY_TEST_MOTO_URL is not set: run through jest (globalSetup starts moto_server)');
  return url;
}

/** An S3 client for moto. */
export function motoS3(): S3Client {
  return new S3Client({ endpoint: endpoint(), region: 'us-east-1', credentials, forcePathStyle: true, maxAttempts: 1 });
}

/** A KMS client for moto. */
export function motoKms(): KMSClient {
  return motoKmsIn('us-east-1');
}

/** A KMS client of moto_server in `region` (moto keeps one KMS per Region). */
export function motoKmsIn(region: string): KMSClient {
  return new KMSClient({ endpoint: endpoint(), region, credentials, maxAttempts: 1 });
}

/** A unique lowercase name for buckets and keys. */
export function uniqueName(stem: string): string {
  return `${stem}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Creates a fresh bucket; versioned unless told otherwise, or with Object Lock. */
export async function createBucket(s3: S3Client, options: { versioned?: boolean; objectLock?: boolean } = {}): Promise<string> {
  const bucket = uniqueName('rk');
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: options.objectLock === true ? true : undefined }));
  if ((options.versioned ?? true) && options.objectLock !== true) {
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  }
  return bucket;
}

/** Creates a fresh symmetric KMS key; returns its ARN. */
export async function createKmsKey(kms: KMSClient): Promise<string> {
  const out = await kms.send(new CreateKeyCommand({ Description: uniqueName('rekey-test') }));
  const arn = out.KeyMetadata?.Arn;
  if (arn === undefined) throw new Error('moto returned no key ARN');
  return arn;
}

/** A schema-valid catalog document with the given versions. */
export function catalogOf(keyring: string, versions: readonly KeyVersion[], generation = 1): Catalog {
  const at = new Date('2026-01-01T00:00:00.000Z').toISOString();
  return {
    schema: 1,
    keyring,
    generation,
    policy: { rotateEverySeconds: 7_776_000, graceSeconds: 604_800, propagationSeconds: 300, retentionSeconds: 2_592_000, quietSeconds: 604_800, destroyAfterRetention: false },
    versions,
    createdAt: at,
    updatedAt: at,
  };
}

/** One request the client sent (counted before it goes out, so failed ones count too). */
export interface Sent {
  readonly command: string;
  readonly range: string | undefined;
  readonly ifMatch: string | undefined;
}

/**
 * Records every command `client` sends from now on, in order.
 *
 * @example
 * const sent = countCommands(client); await store.getHeader('a'); sent.map((s) => s.command); // ['GetObjectCommand']
 */
export function countCommands(client: S3Client): Sent[] {
  const sent: Sent[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Range?: string; IfMatch?: string };
      sent.push({ command: context.commandName as string, range: input.Range, ifMatch: input.IfMatch });
      return next(args);
    },
    { step: 'initialize', name: 'commandCounter' },
  );
  return sent;
}
