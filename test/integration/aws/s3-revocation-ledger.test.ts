import { DeleteObjectCommand, ListObjectVersionsCommand, PutObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { S3RevocationLedger } from '../../../shared/adapters/aws/s3-revocation-ledger';
import { ValidationError } from '../../../shared/errors';
import type { RevocationMark } from '../../../shared/ports/revocation-ledger';
import { createBucket, motoS3 } from './moto';

// Real time (whole seconds): the lock must still be in force when the test tries to delete.
const AT = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();

function markOf(version: number, overrides: Partial<RevocationMark> = {}): RevocationMark {
  return { keyring: 'pii', version, at: AT, reason: 'SEC-42 key exposed', actor: 'arn:aws:iam::123456789012:role/security', ...overrides };
}

describe('S3RevocationLedger (moto, Object Lock bucket)', () => {
  const s3 = motoS3();
  let bucket: string;
  let ledger: S3RevocationLedger;

  beforeEach(async () => {
    bucket = await createBucket(s3, { objectLock: true });
    ledger = new S3RevocationLedger({ client: s3, bucket, retentionDays: 30 });
  });

  describe('mark', () => {
    it('writes the mark under Object Lock (COMPLIANCE, at + retention), readable by revoked', async () => {
      // Act
      await ledger.mark(markOf(3));
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'revocations/pii/3.json' }));
      const marks = await ledger.revoked('pii');
      // Assess
      expect([...marks.entries()]).toEqual([[3, markOf(3)]]);
      expect(head.ObjectLockMode).toBe('COMPLIANCE');
      expect(head.ObjectLockRetainUntilDate?.getTime()).toBe(Date.parse(AT) + 30 * 86_400_000);
    });

    it('keeps the first mark of a version and answers a second one without failing (412 is "already marked")', async () => {
      // Prepare
      await ledger.mark(markOf(3, { reason: 'first' }));
      // Act
      await ledger.mark(markOf(3, { reason: 'second', actor: 'event:dup' }));
      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'revocations/pii/3.json' }));
      // Assess
      expect((await ledger.revoked('pii')).get(3)?.reason).toBe('first');
      expect(versions.Versions).toHaveLength(1);
    });

    it('throws ValidationError for a malformed mark and writes nothing', async () => {
      // Act
      const attempts = [markOf(0), markOf(2, { keyring: 'Bad Name' }), markOf(2, { at: 'yesterday' }), markOf(2, { reason: '  ' })].map((m) => ledger.mark(m));
      // Assess
      for (const a of attempts) await expect(a).rejects.toBeInstanceOf(ValidationError);
      expect((await ledger.revoked('pii')).size).toBe(0);
    });
  });

  describe('revoked', () => {
    it('lists only the keyring asked for, ascending', async () => {
      // Prepare
      await ledger.mark(markOf(5));
      await ledger.mark(markOf(2));
      await ledger.mark(markOf(7, { keyring: 'ops' }));
      // Act
      const pii = await ledger.revoked('pii');
      const ops = await ledger.revoked('ops');
      // Assess
      expect([...pii.keys()]).toEqual([2, 5]);
      expect([...ops.keys()]).toEqual([7]);
    });

    it('refuses to delete the locked mark, and still counts it behind a delete marker', async () => {
      // Prepare
      await ledger.mark(markOf(4));
      const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'revocations/pii/4.json' }));
      const versionId = listed.Versions?.[0]?.VersionId;
      // Act
      const hardDelete = s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'revocations/pii/4.json', VersionId: versionId }));
      await expect(hardDelete).rejects.toMatchObject({ name: 'AccessDenied' });
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'revocations/pii/4.json' }));
      // Assess
      expect((await ledger.revoked('pii')).get(4)).toEqual(markOf(4));
    });

    it('reads the first mark when someone overwrote the key, and a version even from an unparsable body', async () => {
      // Prepare
      await ledger.mark(markOf(6, { reason: 'genuine' }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'revocations/pii/6.json', Body: JSON.stringify(markOf(6, { reason: 'forged' })) }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'revocations/pii/8.json', Body: 'not json' }));
      // Act
      const marks = await ledger.revoked('pii');
      // Assess
      expect(marks.get(6)?.reason).toBe('genuine');
      expect(marks.get(8)).toMatchObject({ keyring: 'pii', version: 8, actor: 'unknown' });
    });

    it('throws ValidationError for a bad keyring name', async () => {
      await expect(ledger.revoked('../escrow')).rejects.toBeInstanceOf(ValidationError);
    });
  });
});
