import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { S3CatalogStore } from '../../../../shared/adapters/aws/s3-catalog-store';
import { mapAwsError } from '../../../../shared/adapters/aws/map-aws-error';
import { S3EscrowStore } from '../../../../shared/adapters/aws/s3-escrow-store';
import { S3RecordStore } from '../../../../shared/adapters/aws/s3-record-store';
import type { Catalog } from '../../../../shared/catalog/model';
import {
  AccessDeniedError,
  AlreadyExistsError,
  BackendError,
  ConflictError,
  NotFoundError,
  ThrottledError,
} from '../../../../shared/errors';
import type { EscrowRecord } from '../../../../shared/escrow';
import { startRefusingEndpoint } from './refusing-endpoint';

const MiB = 1024 * 1024;

function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', message: name, $metadata: { httpStatusCode: status } });
}

/** The one method of an SDK body stream that the adapters read. */
function body(bytes: Buffer): any {
  return { transformToByteArray: async () => new Uint8Array(bytes) };
}

const catalog: Catalog = {
  schema: 1,
  keyring: 'payments',
  generation: 2,
  policy: { rotateEverySeconds: 86_400, graceSeconds: 3_600, propagationSeconds: 60, retentionSeconds: 86_400, quietSeconds: 0, destroyAfterRetention: false },
  versions: [{ version: 1, state: 'active', wrappedKey: 'AAAA', wrappingKeyId: 'k', createdAt: '2026-01-01T00:00:00.000Z' }],
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

const record: EscrowRecord = {
  schema: 1,
  keyring: 'payments',
  version: 1,
  wrappedKey: 'AAAA',
  escrowKeyId: 'k',
  canary: 'AAAA',
  createdAt: '2026-01-01T00:00:00.000Z',
  wrappingKeyId: 'k',
};

describe('S3 adapters', () => {
  const client = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  const s3 = mockClient(client);

  beforeEach(() => s3.reset());

  describe('mapAwsError (S3 objects)', () => {
    it.each([
      ['PreconditionFailed', 412, ConflictError],
      ['ConditionalRequestConflict', 409, ConflictError],
      ['AccessDenied', 403, AccessDeniedError],
      ['SlowDown', 503, ThrottledError],
      ['ServiceUnavailable', 503, ThrottledError],
      ['NoSuchKey', 404, NotFoundError],
      ['InternalError', 500, BackendError],
    ] as const)('maps %s (%i) to %p', (name, status, type) => {
      // Act
      const mapped = mapAwsError(s3Error(name, status), { resource: 's3://b/k' });
      // Assess
      expect(mapped).toBeInstanceOf(type);
      expect(mapped.message).toContain('s3://b/k');
    });
  });

  describe('S3CatalogStore.put', () => {
    it('throws ConflictError on 409 ConditionalRequestConflict', async () => {
      // Prepare
      s3.on(PutObjectCommand).rejects(s3Error('ConditionalRequestConflict', 409));
      const store = new S3CatalogStore({ bucket: 'b', client });
      // Act
      const attempt = store.put(catalog, '"etag"');
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ConflictError);
      await expect(attempt).rejects.toMatchObject({ retryable: true });
    });

    it('throws AccessDeniedError when the bucket policy refuses', async () => {
      // Prepare
      s3.on(PutObjectCommand).rejects(s3Error('AccessDenied', 403));
      const store = new S3CatalogStore({ bucket: 'b', client });
      // Act
      const attempt = store.put(catalog, null);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(AccessDeniedError);
    });

    it('sends If-None-Match for a create and If-Match for an update', async () => {
      // Prepare
      s3.on(PutObjectCommand).resolves({ ETag: '"new"' });
      const store = new S3CatalogStore({ bucket: 'b', client, prefix: 'c/' });
      // Act
      await store.put(catalog, null);
      await store.put(catalog, '"old"');
      // Assess
      const inputs = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
      expect(inputs[0]).toMatchObject({ Bucket: 'b', Key: 'c/payments.json', IfNoneMatch: '*' });
      expect(inputs[0]?.IfMatch).toBeUndefined();
      expect(inputs[1]).toMatchObject({ IfMatch: '"old"' });
      expect(inputs[1]?.IfNoneMatch).toBeUndefined();
    });
  });

  describe('S3CatalogStore.list', () => {
    it('follows continuation tokens across pages', async () => {
      // Prepare
      s3.on(ListObjectsV2Command)
        .resolvesOnce({ Contents: [{ Key: 'catalog/b.json' }], IsTruncated: true, NextContinuationToken: 't1' })
        .resolvesOnce({ Contents: [{ Key: 'catalog/a.json' }, { Key: 'catalog/c.json' }], IsTruncated: false });
      const store = new S3CatalogStore({ bucket: 'b', client });
      // Act
      const names = await store.list();
      // Assess
      expect(names).toEqual(['a', 'b', 'c']);
      expect(s3.commandCalls(ListObjectsV2Command)[1]?.args[0].input.ContinuationToken).toBe('t1');
    });
  });

  describe('S3CatalogStore.history', () => {
    it('follows key and version-id markers across pages', async () => {
      // Prepare
      const key = 'catalog/payments.json';
      s3.on(ListObjectVersionsCommand)
        .resolvesOnce({ Versions: [{ Key: key, VersionId: 'v3', ETag: '"e3"', IsLatest: true }], IsTruncated: true, NextKeyMarker: key, NextVersionIdMarker: 'v3' })
        .resolvesOnce({ Versions: [{ Key: key, VersionId: 'v2', ETag: '"e2"', IsLatest: false }], IsTruncated: false });
      const store = new S3CatalogStore({ bucket: 'b', client });
      // Act
      const history = await store.history('payments');
      // Assess
      expect(history.map((h) => h.versionId)).toEqual(['v3', 'v2']);
      expect(s3.commandCalls(ListObjectVersionsCommand)[1]?.args[0].input).toMatchObject({ KeyMarker: key, VersionIdMarker: 'v3' });
    });
  });

  describe('S3CatalogStore.get (real SDK retry path)', () => {
    it('retries SlowDown up to maxAttempts, then throws ThrottledError', async () => {
      // Prepare
      const endpoint = await startRefusingEndpoint(503, { 'content-type': 'application/xml' }, '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      const store = new S3CatalogStore({
        bucket: 'b',
        clientConfig: { endpoint: endpoint.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 3, retryMode: 'standard' },
      });
      // Act
      const error = await store.get('payments').catch((e: unknown) => e);
      await endpoint.close();
      // Assess
      expect(error).toBeInstanceOf(ThrottledError);
      expect(endpoint.requests()).toBe(3);
    });
  });

  describe('S3RecordStore.put', () => {
    it('throws ConflictError on 409 ConditionalRequestConflict and AccessDeniedError on 403', async () => {
      // Prepare
      s3.on(PutObjectCommand).rejectsOnce(s3Error('ConditionalRequestConflict', 409)).rejectsOnce(s3Error('AccessDenied', 403));
      const store = new S3RecordStore({ bucket: 'b', client });
      const rec = { id: 'r', keyring: 'orders', version: 1, envelope: Buffer.from('e') };
      // Act
      const conflict = store.put(rec, null);
      await expect(conflict).rejects.toBeInstanceOf(ConflictError);
      const denied = store.put(rec, null);
      // Assess
      await expect(denied).rejects.toBeInstanceOf(AccessDeniedError);
    });
  });

  describe('S3RecordStore.rewrapObject', () => {
    function multipartScenario(complete: S3ServiceException | undefined) {
      const size = 12 * MiB;
      s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'up-1' });
      // The rewrite learns size, metadata and SSE settings from its ranged GET (no HeadObject): Content-Range carries the size.
      s3.on(GetObjectCommand).callsFake((input: { Range: string }) => {
        const m = /bytes=(\d+)-(\d+)/.exec(input.Range)!;
        const start = Number(m[1]);
        const end = Math.min(Number(m[2]), size - 1);
        return {
          Body: body(Buffer.alloc(end - start + 1, 7)),
          ETag: '"v1"',
          ContentLength: end - start + 1,
          ContentRange: `bytes ${start}-${end}/${size}`,
          Metadata: { 'rekey-keyring': 'orders', 'rekey-version': '1' },
        };
      });
      s3.on(UploadPartCommand).resolves({ ETag: '"p1"' });
      s3.on(UploadPartCopyCommand).resolves({ CopyPartResult: { ETag: '"pc"' } });
      if (complete === undefined) s3.on(CompleteMultipartUploadCommand).resolves({ ETag: '"new-3"' });
      else s3.on(CompleteMultipartUploadCommand).rejects(complete);
      s3.on(AbortMultipartUploadCommand).resolves({});
      return new S3RecordStore({ bucket: 'b', client, prefix: 'p/', copyPartBytes: 5 * MiB, multipartThresholdBytes: 6 * MiB });
    }

    it('completes the upload with If-Match and copies the payload ranges guarded by the checked revision', async () => {
      // Prepare
      const store = multipartScenario(undefined);
      // Act
      const revision = await store.rewrapObject({ id: 'big', newHeader: Buffer.alloc(100, 1), oldHeaderLength: 90, version: 2, expectedRevision: '"v1"' });
      // Assess
      expect(revision).toBe('"new-3"');
      expect(s3.commandCalls(CompleteMultipartUploadCommand)[0]?.args[0].input).toMatchObject({ IfMatch: '"v1"', UploadId: 'up-1' });
      const copies = s3.commandCalls(UploadPartCopyCommand).map((c) => c.args[0].input);
      const firstCopyStart = 90 + 5 * MiB - 100;
      expect(copies.map((c) => c.CopySourceRange)).toEqual([`bytes=${firstCopyStart}-${firstCopyStart + 5 * MiB - 1}`, `bytes=${firstCopyStart + 5 * MiB}-${12 * MiB - 1}`]);
      // Not pinned to the VersionId (that would need s3:GetObjectVersion): the ETag condition refuses any other content.
      expect(copies.every((c) => c.CopySource === 'b/p/big' && c.CopySourceIfMatch === '"v1"')).toBe(true);
      expect(s3.commandCalls(GetObjectCommand).every((c) => c.args[0].input.IfMatch === '"v1"' && c.args[0].input.VersionId === undefined)).toBe(true);
      expect(s3.commandCalls(CreateMultipartUploadCommand)[0]?.args[0].input.Metadata).toEqual({ 'rekey-keyring': 'orders', 'rekey-version': '2', 'rekey-origin': '1' });
      const part1 = s3.commandCalls(UploadPartCommand)[0]?.args[0].input.Body as Buffer;
      expect(part1.length).toBe(5 * MiB);
    });

    it.each([
      ['PreconditionFailed', 412],
      ['ConditionalRequestConflict', 409],
    ] as const)('throws ConflictError and aborts the upload when CompleteMultipartUpload answers %s', async (name, status) => {
      // Prepare
      const store = multipartScenario(s3Error(name, status));
      // Act
      const attempt = store.rewrapObject({ id: 'big', newHeader: Buffer.alloc(100, 1), oldHeaderLength: 90, version: 2, expectedRevision: '"v1"' });
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ConflictError);
      expect(s3.commandCalls(AbortMultipartUploadCommand)[0]?.args[0].input).toMatchObject({ UploadId: 'up-1', Key: 'p/big' });
    });
  });

  describe('S3EscrowStore.put', () => {
    it('sends If-None-Match, a COMPLIANCE lock until now + retention and a SHA-256 checksum', async () => {
      // Prepare
      s3.on(PutObjectCommand).resolves({ ETag: '"e"' });
      const now = new Date('2026-05-01T00:00:00.000Z');
      const store = new S3EscrowStore({ bucket: 'b', client, retentionDays: 10, clock: () => now });
      // Act
      await store.put(record);
      // Assess
      expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toMatchObject({
        Key: 'escrow/payments/1.json',
        IfNoneMatch: '*',
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: new Date('2026-05-11T00:00:00.000Z'),
        ChecksumAlgorithm: 'SHA256',
      });
    });

    it('throws AlreadyExistsError on 412 and a retryable ConflictError on 409', async () => {
      // Prepare
      s3.on(PutObjectCommand).rejectsOnce(s3Error('PreconditionFailed', 412)).rejectsOnce(s3Error('ConditionalRequestConflict', 409));
      const store = new S3EscrowStore({ bucket: 'b', client, retentionDays: 10 });
      // Act
      const exists = store.put(record);
      await expect(exists).rejects.toBeInstanceOf(AlreadyExistsError);
      const racing = store.put(record);
      // Assess
      await expect(racing).rejects.toBeInstanceOf(ConflictError);
    });
  });
});
