/**
 * The reencrypt event schemas against the item shapes AWS documents. Each fixture below is the
 * documented example (bucket and keys adapted to a record target), with its page:
 *
 * - Step Functions "ItemReader (Map)", section "A list of Amazon S3 objects"
 *   (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html#itemsource-example-s3-object-data):
 *   each item is `{ Etag, Key, LastModified, Size, StorageClass }`, `Etag` spelled so and quoted,
 *   `LastModified` in epoch seconds (a number).
 * - Amazon S3 User Guide "Locating your inventory list", example manifest.json `fileSchema`
 *   ("Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, ...");
 *   a CSV inventory row carries every value as text.
 * - Amazon S3 User Guide "Invoke AWS Lambda function" (S3 Batch Operations), example request of
 *   invocation schema 1.0, whose `s3BucketArn` carries a region and an account.
 */
import { mapBatchEventSchema, reencryptEventSchema, s3BatchEventSchema } from '../../../shared/vocabulary/event-schemas';

const BATCH_INPUT = { keyring: 'pii', bucket: 'orders-records', prefix: 'pii/', mode: 'rewrap' } as const;

/** The documented ListObjectsV2 item, as Step Functions delivers it. */
const LISTED_OBJECT = { Etag: '"05704fbdccb224cb01c59005bebbad28"', Key: 'pii/n02085620_1073', LastModified: 1668699881, Size: 34910, StorageClass: 'STANDARD' };

describe('mapBatchEventSchema', () => {
  describe('S3 listing items (ItemReader arn:aws:states:::s3:listObjectsV2)', () => {
    it('accepts a batch of the documented item shape, Etag spelled as Step Functions spells it', () => {
      // Prepare
      const event = { BatchInput: BATCH_INPUT, Items: [LISTED_OBJECT, { ...LISTED_OBJECT, Key: 'pii/r2', LastModified: 1.789180622e9 }] };
      // Act
      const result = mapBatchEventSchema.safeParse(event);
      // Assess
      expect(result.success).toBe(true);
      expect(result.data?.Items.map((i) => i.Key)).toEqual(['pii/n02085620_1073', 'pii/r2']);
    });

    it('keeps accepting an item once AWS adds a field of its own to it', () => {
      // Prepare
      const event = { BatchInput: BATCH_INPUT, Items: [{ ...LISTED_OBJECT, ChecksumAlgorithm: ['CRC64NVME'] }] };
      // Act
      const result = mapBatchEventSchema.safeParse(event);
      // Assess
      expect(result.success).toBe(true);
    });

    it('refuses LastModified as anything but epoch seconds, and a negative Size', () => {
      // Prepare
      const stringDate = { BatchInput: BATCH_INPUT, Items: [{ ...LISTED_OBJECT, LastModified: '2022-11-17T15:44:41.000Z' }] };
      const negative = { BatchInput: BATCH_INPUT, Items: [{ ...LISTED_OBJECT, Size: -1 }] };
      // Act
      const results = [mapBatchEventSchema.safeParse(stringDate), mapBatchEventSchema.safeParse(negative)];
      // Assess
      expect(results.map((r) => r.success)).toEqual([false, false]);
    });

    it('refuses an item outside the batch prefix', () => {
      // Prepare
      const event = { BatchInput: BATCH_INPUT, Items: [{ ...LISTED_OBJECT, Key: 'ops/r1' }] };
      // Act
      const result = mapBatchEventSchema.safeParse(event);
      // Assess
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.path).toEqual(['Items', 0, 'Key']);
    });
  });

  describe('S3 inventory rows (ItemReader MANIFEST)', () => {
    it('accepts a CSV inventory row of the manifest fileSchema, values as text', () => {
      // Prepare
      const row = {
        Bucket: 'orders-records',
        Key: 'pii/r1',
        VersionId: '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY',
        IsLatest: 'true',
        IsDeleteMarker: 'false',
        Size: '5399',
        LastModifiedDate: '2022-11-16T00:29:32.000Z',
        ETag: '5f2a3d0b4f1e0f8f1e7c9a4b5c6d7e8f',
        StorageClass: 'STANDARD',
      };
      // Act
      const result = reencryptEventSchema.safeParse({ BatchInput: BATCH_INPUT, Items: [row] });
      // Assess
      expect(result.success).toBe(true);
    });

    it('refuses an inventory row of another bucket', () => {
      // Prepare
      const row = { Bucket: 'someone-else', Key: 'pii/r1', Size: '1' };
      // Act
      const result = mapBatchEventSchema.safeParse({ BatchInput: BATCH_INPUT, Items: [row] });
      // Assess
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.path).toEqual(['Items', 0, 'Bucket']);
    });
  });
});

describe('s3BatchEventSchema', () => {
  describe('invocation schema 1.0', () => {
    it('accepts the documented request, whose bucket ARN names a region and an account', () => {
      // Prepare
      const event = {
        invocationSchemaVersion: '1.0',
        invocationId: 'YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo',
        job: { id: 'f3cc4f60-61f6-4a2b-8a21-d07600c373ce' },
        tasks: [{ taskId: 'dGFza2lkZ29lc2hlcmUK', s3Key: 'customerImage1.jpg', s3VersionId: '1', s3BucketArn: 'arn:aws:s3:us-east-1:0123456788:awsexamplebucket1' }],
      };
      const canonical = { ...event, tasks: [{ ...event.tasks[0], s3BucketArn: 'arn:aws:s3:::awsexamplebucket1' }] };
      // Act
      const results = [s3BatchEventSchema.safeParse(event), s3BatchEventSchema.safeParse(canonical)];
      // Assess
      expect(results.map((r) => r.success)).toEqual([true, true]);
      expect(results[0]?.data?.tasks[0]).toMatchObject({ s3Key: 'customerImage1.jpg', s3VersionId: '1' });
    });

    it('refuses a task ARN of another service', () => {
      // Prepare
      const event = {
        invocationSchemaVersion: '1.0',
        invocationId: 'inv-1',
        job: { id: 'job-1' },
        tasks: [{ taskId: 't1', s3Key: 'k', s3VersionId: null, s3BucketArn: 'arn:aws:sqs:us-east-1:012345678901:awsexamplebucket1' }],
      };
      // Act
      const result = s3BatchEventSchema.safeParse(event);
      // Assess
      expect(result.success).toBe(false);
    });

    it('URL-decodes the task key', () => {
      // Prepare
      const event = {
        invocationSchemaVersion: '1.0',
        invocationId: 'inv-1',
        job: { id: 'job-1' },
        tasks: [{ taskId: 't1', s3Key: 'pii/a%20b', s3VersionId: null, s3BucketArn: 'arn:aws:s3:::orders-records' }],
      };
      // Act
      const result = s3BatchEventSchema.safeParse(event);
      // Assess
      expect(result.data?.tasks[0]?.s3Key).toBe('pii/a b');
    });
  });
});
