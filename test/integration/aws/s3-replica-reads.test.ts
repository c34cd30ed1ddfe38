/**
 * S3RecordStore with a read replica, on moto: two buckets, the "replication" done by the test
 * itself (CopyObject primary -> replica, or not at all for a lagging replica). Reads go to the
 * replica, every write to the primary, conditional on the ETag the replica answered; a stale or
 * differently-tagged replica read can only conflict, never overwrite.
 *
 * What S3 promises, and what the store therefore does not assume: S3 Replication copies the
 * object's data and user metadata to the destination ("What does Amazon S3 replicate?",
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-what-is-isnot-replicated.html),
 * and asynchronously, so a replica lags. An object's ETag is the MD5 of its data only for a
 * single-part plaintext or SSE-S3 object, not for SSE-KMS, SSE-C or multipart objects ("Object",
 * ETag, https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html), and a replica of an
 * SSE-KMS object is encrypted again under the destination's KMS key ("Replicating encrypted
 * objects", https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html):
 * its ETag may then differ from the source's. The last test builds such a replica (a multipart
 * copy of the same bytes, whose ETag is of the `"…-1"` form) and checks the write conflicts.
 * CopyObject keeps the metadata by default (`x-amz-metadata-directive: COPY`, "CopyObject",
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html).
 */
import { randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { S3RecordStore } from '../../../shared/adapters/aws/s3-record-store';
import { ConflictError, ValidationError } from '../../../shared/errors';
import { parseHeader } from '../../../shared/envelope/format';
import { withHeaderRewrap } from '../../../shared/reencrypt/header-rewrap';
import { createBucket, motoS3 } from './moto';
import { LocalStack } from '../../unit/reencrypt/support/local-stack';

const PREFIX = 'data/';

/** Commands `client` sent, with the bucket each named. */
function countCommands(client: S3Client): { command: string; bucket: string | undefined; ifMatch: string | undefined }[] {
  const sent: { command: string; bucket: string | undefined; ifMatch: string | undefined }[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Bucket?: string; IfMatch?: string };
      sent.push({ command: context.commandName as string, bucket: input.Bucket, ifMatch: input.IfMatch });
      return next(args);
    },
    { step: 'initialize', name: 'commandCounter' },
  );
  return sent;
}

describe('S3RecordStore reading a replica (moto)', () => {
  const s3 = motoS3();
  let stack: LocalStack;
  let primary: string;
  let replica: string;
  /** Writes straight to the primary (the application's own store, no replica). */
  let writer: S3RecordStore;
  let primaryClient: S3Client;
  let replicaClient: S3Client;
  /** The store under test: reads the replica, writes the primary. */
  let reader: S3RecordStore;

  beforeEach(async () => {
    stack = new LocalStack();
    await stack.createKeyring('pii');
    primary = await createBucket(s3, { versioned: false });
    replica = await createBucket(s3, { versioned: false });
    writer = new S3RecordStore({ bucket: primary, client: motoS3(), prefix: PREFIX });
    primaryClient = motoS3();
    replicaClient = motoS3();
    reader = new S3RecordStore({ bucket: primary, client: primaryClient, prefix: PREFIX, replica: { bucket: replica, client: replicaClient } });
  });
  afterEach(() => stack.close());

  /** What replication would do: the primary's current object, copied to the replica with its metadata. */
  async function replicate(id: string): Promise<void> {
    await s3.send(new CopyObjectCommand({ Bucket: replica, Key: `${PREFIX}${id}`, CopySource: `${primary}/${PREFIX}${id}` }));
  }

  async function rawObject(bucket: string, id: string): Promise<{ bytes: Buffer; etag: string; metadata: Record<string, string> | undefined }> {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${PREFIX}${id}` }));
    return { bytes: Buffer.from(await out.Body!.transformToByteArray()), etag: out.ETag!, metadata: out.Metadata };
  }

  it('decrypts a record read from the replica under an older version and lazily re-wraps it on the primary, not on the replica', async () => {
    // Prepare
    const plaintext = randomBytes(700);
    await stack.recordService(writer).put('r', 'pii', plaintext);
    await replicate('r');
    const before = await rawObject(replica, 'r');
    const from = parseHeader(before.bytes).version;
    const to = await stack.rotateAndPromote('pii');
    const replicaCalls = countCommands(replicaClient);
    const primaryCalls = countCommands(primaryClient);
    // Act
    const read = await stack.recordService(reader).get('r');
    // Assess
    expect(read.plaintext.equals(plaintext)).toBe(true);
    expect(read.version).toBe(from);
    expect(read.rewrap).toBe('rewrapped');
    // The read went to the replica, the write to the primary, conditional on the ETag read there.
    expect(replicaCalls.map((c) => [c.command, c.bucket])).toEqual([['GetObjectCommand', replica]]);
    expect(primaryCalls).toEqual([{ command: 'PutObjectCommand', bucket: primary, ifMatch: before.etag }]);
    const onPrimary = (await writer.get('r'))!;
    expect(onPrimary.version).toBe(to);
    expect(onPrimary.revision).toBe(read.revision);
    // Read back from the primary alone: already current there, so no re-wrap again.
    expect(await stack.recordService(writer).get('r')).toMatchObject({ version: to, revision: read.revision, rewrap: 'none' });
    expect((await stack.recordService(writer).get('r')).plaintext.equals(plaintext)).toBe(true);
    // The replica is untouched: same bytes, same ETag, same indexed version.
    const after = await rawObject(replica, 'r');
    expect(after.bytes.equals(before.bytes)).toBe(true);
    expect(after.etag).toBe(before.etag);
    expect(after.metadata).toEqual(before.metadata);
  });

  it('answers getHeader, scans and counts from the replica and writes a header re-wrap to the primary', async () => {
    // Prepare: three records replicated; then a fourth the replica has not received yet.
    const service = stack.recordService(writer);
    for (const id of ['a', 'b', 'c']) {
      await service.put(id, 'pii', Buffer.from(`value ${id}`));
      await replicate(id);
    }
    await service.put('d', 'pii', Buffer.from('value d'));
    const from = (await writer.get('a'))!.version;
    const to = await stack.rotateAndPromote('pii');
    const onPrimary = await writer.countByVersion('pii');
    const replicaCalls = countCommands(replicaClient);
    const primaryCalls = countCommands(primaryClient);
    // Act
    const counts = await reader.countByVersion('pii');
    const page = await reader.scanByVersion('pii', from, { limit: 10 });
    const missing = await reader.getHeader('d');
    const head = (await reader.getHeader('a'))!;
    const readsOnPrimary = primaryCalls.length;
    const next = await withHeaderRewrap(stack.envelopes, stack.provider).rewrapHeader(head.header);
    const [outcome] = await reader.putHeaders([{ write: { id: 'a', keyring: 'pii', version: next.version, header: next.header }, expectedRevision: head.revision }]);
    // Assess
    expect(counts).toEqual(new Map([[from, 3]]));
    expect(onPrimary).toEqual(new Map([[from, 4]]));
    expect(page.items.map((r) => r.id)).toEqual(['a', 'b', 'c']);
    expect(missing).toBeUndefined();
    expect(head.version).toBe(from);
    expect(readsOnPrimary).toBe(0);
    expect(replicaCalls.every((c) => c.bucket === replica)).toBe(true);
    // With a replica the rewrite reads the primary (at the replica's ETag) for its SSE settings,
    // rather than copying the replica's: GET and PUT, both conditional, both on the primary.
    expect(primaryCalls).toEqual([
      { command: 'GetObjectCommand', bucket: primary, ifMatch: head.revision },
      { command: 'PutObjectCommand', bucket: primary, ifMatch: head.revision },
    ]);
    expect(outcome).toEqual({ ok: true, revision: (await writer.get('a'))!.revision });
    expect((await writer.get('a'))!.version).toBe(to);
    expect((await stack.recordService(writer).get('a')).plaintext.toString()).toBe('value a');
    expect(parseHeader((await rawObject(replica, 'a')).bytes).version).toBe(from);
  });

  it('never lets a stale replica read overwrite a newer object on the primary', async () => {
    // Prepare: the replica holds the old object; the application has since written a newer one.
    const service = stack.recordService(writer);
    await service.put('r', 'pii', Buffer.from('old value'));
    await replicate('r');
    await stack.rotateAndPromote('pii');
    await service.put('r', 'pii', Buffer.from('newer value'));
    const newer = await rawObject(primary, 'r');
    // Act
    const read = await stack.recordService(reader).get('r');
    const head = (await reader.getHeader('r'))!;
    const next = await withHeaderRewrap(stack.envelopes, stack.provider).rewrapHeader(head.header);
    const outcomes = await reader.putHeaders([{ write: { id: 'r', keyring: 'pii', version: next.version, header: next.header }, expectedRevision: head.revision }]);
    const stored = (await reader.get('r'))!;
    const envelope = await stack.envelopes.encrypt('pii', Buffer.from('from the stale read'));
    const put = reader.put({ id: 'r', keyring: 'pii', version: parseHeader(envelope).version, envelope }, stored.revision);
    const batch = await reader.putBatch([{ write: { id: 'r', keyring: 'pii', version: parseHeader(envelope).version, envelope }, expectedRevision: stored.revision }]);
    const del = reader.delete('r', stored.revision);
    // Assess: the read is the replica's (older, still decrypting); every write based on it conflicts.
    expect(read.plaintext.toString()).toBe('old value');
    expect(read.rewrap).toBe('conflict');
    expect(outcomes).toEqual([{ ok: false, reason: 'conflict' }]);
    await expect(put).rejects.toBeInstanceOf(ConflictError);
    expect(batch).toEqual([{ ok: false, reason: 'conflict' }]);
    await expect(del).rejects.toBeInstanceOf(ConflictError);
    const after = await rawObject(primary, 'r');
    expect(after.etag).toBe(newer.etag);
    expect(after.bytes.equals(newer.bytes)).toBe(true);
    expect((await stack.recordService(writer).get('r')).plaintext.toString()).toBe('newer value');
  });

  it('conflicts rather than overwrites when the replica holds the same bytes under another ETag (as SSE-KMS replicas may)', async () => {
    // Prepare: the replica's copy made by a one-part multipart upload: same bytes and metadata, another ETag.
    const plaintext = Buffer.from('same bytes, other tag');
    await stack.recordService(writer).put('r', 'pii', plaintext);
    const source = await rawObject(primary, 'r');
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: replica, Key: `${PREFIX}r`, Metadata: source.metadata }));
    const part = await s3.send(new UploadPartCommand({ Bucket: replica, Key: `${PREFIX}r`, UploadId: upload.UploadId, PartNumber: 1, Body: source.bytes }));
    await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: replica, Key: `${PREFIX}r`, UploadId: upload.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }),
    );
    const copy = await rawObject(replica, 'r');
    await stack.rotateAndPromote('pii');
    // Act
    const read = await stack.recordService(reader).get('r');
    // Assess
    expect(copy.bytes.equals(source.bytes)).toBe(true);
    expect(copy.etag).not.toBe(source.etag);
    expect(read.plaintext.equals(plaintext)).toBe(true);
    expect(read.rewrap).toBe('conflict');
    const after = await rawObject(primary, 'r');
    expect(after.etag).toBe(source.etag);
    expect(after.bytes.equals(source.bytes)).toBe(true);
  });

  it('throws ValidationError for a replica without a bucket', () => {
    // Act / Assess
    expect(() => new S3RecordStore({ bucket: primary, client: s3, replica: { bucket: '' } })).toThrow(ValidationError);
  });
});
