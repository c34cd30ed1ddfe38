/**
 * The S3 record store for the record-store contract and the sweep suites: a fresh bucket on the
 * moto_server of jest's globalSetup, and a second S3RecordStore with its own S3Client as the
 * peer (another Lambda over the same bucket).
 */
import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { S3RecordStore, type S3RecordStoreOptions } from '../../../shared/adapters/aws/s3-record-store';
import { createBucket, motoS3 } from '../../integration/aws/moto';
import type { ContractHandle } from '../record-store-contract';

/**
 * Opens a fresh S3 record store on moto and a peer over the same bucket; `close` empties the
 * bucket (every object version and delete marker) and deletes it.
 *
 * @example
 * const { store, peer, client, bucket, close } = await openS3ContractStore();
 */
export async function openS3ContractStore(
  options: Omit<S3RecordStoreOptions, 'bucket' | 'client' | 'clientConfig'> = {},
  /** Another moto_server than globalSetup's (a serial one, for suites that race two clients). */
  endpoint?: string,
): Promise<ContractHandle & { client: S3Client; bucket: string }> {
  const clientFor = (): S3Client =>
    endpoint === undefined
      ? motoS3()
      : new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, forcePathStyle: true, maxAttempts: 1 });
  const client = clientFor();
  const peerClient = clientFor();
  // Unversioned: the contract is about current records; versioned buckets are S3-specific tests.
  const bucket = await createBucket(client, { versioned: false });
  const store = new S3RecordStore({ prefix: 'records/', ...options, bucket, client });
  const peer = new S3RecordStore({ prefix: 'records/', ...options, bucket, client: peerClient });
  return {
    store,
    peer,
    client,
    bucket,
    close: async () => {
      await emptyBucket(client, bucket);
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      client.destroy();
      peerClient.destroy();
    },
  };
}

/** Deletes every object version and delete marker of `bucket`. */
async function emptyBucket(client: S3Client, bucket: string): Promise<void> {
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (;;) {
    const page = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
    const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].flatMap((v) => (v.Key === undefined ? [] : [{ Key: v.Key, VersionId: v.VersionId }]));
    if (objects.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }));
    if (page.IsTruncated !== true) return;
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
}
