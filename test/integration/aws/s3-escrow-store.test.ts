import { DeleteObjectCommand, HeadObjectCommand, ListObjectVersionsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { S3EscrowStore } from '../../../shared/adapters/aws/s3-escrow-store';
import { AlreadyExistsError, BackendError, ValidationError } from '../../../shared/errors';
import type { EscrowRecord } from '../../../shared/escrow';
import { createBucket, motoS3 } from './moto';

function recordOf(keyring: string, version: number, fill = 7): EscrowRecord {
  return {
    schema: 1,
    keyring,
    version,
    wrappedKey: Buffer.alloc(184, fill).toString('base64'),
    escrowKeyId: 'arn:aws:kms:us-east-1:123456789012:key/escrow',
    canary: Buffer.alloc(120, fill + 1).toString('base64'),
    createdAt: '2026-03-01T12:00:00.000Z',
    wrappingKeyId: 'arn:aws:kms:us-east-1:123456789012:key/main',
  };
}

describe('S3EscrowStore (moto, Object Lock bucket)', () => {
  const s3 = motoS3();
  // Real time (whole seconds): the lock must still be in force when the test tries to delete.
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  let bucket: string;
  let store: S3EscrowStore;

  beforeEach(async () => {
    bucket = await createBucket(s3, { objectLock: true });
    store = new S3EscrowStore({ bucket, client: s3, retentionDays: 30, clock: () => now });
  });

  describe('put', () => {
    it('writes a record locked in COMPLIANCE mode until now + retention, readable by get', async () => {
      // Prepare
      const record = recordOf('payments', 3);
      // Act
      await store.put(record);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'escrow/payments/3.json' }));
      const read = await store.get('payments', 3);
      // Assess
      expect(read).toEqual(record);
      expect(head.ObjectLockMode).toBe('COMPLIANCE');
      expect(head.ObjectLockRetainUntilDate?.getTime()).toBe(now.getTime() + 30 * 86_400_000);
    });

    it('throws AlreadyExistsError for a second record of the same version and keeps the first', async () => {
      // Prepare
      await store.put(recordOf('payments', 3, 7));
      // Act
      const attempt = store.put(recordOf('payments', 3, 9));
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(AlreadyExistsError);
      expect((await store.get('payments', 3))?.wrappedKey).toBe(recordOf('payments', 3, 7).wrappedKey);
    });

    it('throws ValidationError for a malformed record and writes nothing', async () => {
      // Prepare
      const bad = { ...recordOf('payments', 4), wrappedKey: 'not base64 !' };
      // Act
      const attempt = store.put(bad);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      expect(await store.list('payments')).toEqual([]);
    });
  });

  describe('get', () => {
    it('refuses a delete of the locked version, and still finds the record behind a delete marker', async () => {
      // Prepare
      await store.put(recordOf('payments', 5));
      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'escrow/payments/5.json' }));
      const versionId = versions.Versions?.[0]?.VersionId;
      // Act
      const hardDelete = s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'escrow/payments/5.json', VersionId: versionId }));
      await expect(hardDelete).rejects.toMatchObject({ name: 'AccessDenied' });
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'escrow/payments/5.json' }));
      const read = await store.get('payments', 5);
      // Assess
      expect(read).toEqual(recordOf('payments', 5));
    });

    it('returns undefined for a version never escrowed', async () => {
      // Act
      const read = await store.get('payments', 42);
      // Assess
      expect(read).toBeUndefined();
    });

    it('throws BackendError when the stored object is not a record of that version', async () => {
      // Prepare
      const put = (key: string, body: string) =>
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ChecksumAlgorithm: 'SHA256' }));
      await put('escrow/payments/6.json', '{"schema":1');
      await put('escrow/payments/7.json', JSON.stringify(recordOf('payments', 8)));
      // Act: both settle together, so a second pending rejection is never left without a handler.
      const [garbled, misplaced] = await Promise.allSettled([store.get('payments', 6), store.get('payments', 7)]);
      // Assess
      expect(garbled).toMatchObject({ status: 'rejected', reason: expect.any(BackendError) });
      expect(misplaced).toMatchObject({ status: 'rejected', reason: expect.any(BackendError) });
    });
  });

  describe('list', () => {
    it('returns the escrowed versions of one keyring in ascending order', async () => {
      // Prepare
      for (const v of [10, 2, 1]) await store.put(recordOf('payments', v));
      await store.put(recordOf('payments-eu', 4));
      // Act
      const versions = await store.list('payments');
      // Assess
      expect(versions).toEqual([1, 2, 10]);
    });
  });
});
