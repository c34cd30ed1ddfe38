/**
 * The payload-preserving header rewrite of a record object on S3 (`S3RecordStore.rewrapObject`):
 * a conditional read-and-rewrite for small objects, an S3-side multipart copy for big ones, so
 * that a re-wrap never moves a large payload through the Lambda.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { BackendError } from '../../errors';
import {
  conditionalError,
  indexOf,
  KEYRING_METADATA,
  MAX_HEADER_BYTES,
  MAX_PARTS,
  MIN_PART_BYTES,
  ORIGIN_METADATA,
  originOfEnvelope,
  positiveInt,
  requireEtag,
  VERSION_METADATA,
} from './s3-record-object';

/** The record object to rewrite, and how (the store's settings). */
export interface RewrapTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** Record id, for messages. */
  readonly id: string;
  /** Resulting object size from which S3 copies the payload itself (multipart). */
  readonly multipartThreshold: number;
  /** Size of each UploadPartCopy range (grown when 10,000 parts would not do). */
  readonly copyPartBytes: number;
}

/** The new header and the revision it replaces (validated by the caller). */
export interface RewrapHeader {
  readonly newHeader: Buffer;
  readonly oldHeaderLength: number;
  readonly version: number;
  readonly expectedRevision: string;
}

/**
 * Replaces the first `oldHeaderLength` bytes of the object with `newHeader`, conditional on
 * `expectedRevision`, and returns the new revision; the semantics are those documented on
 * `S3RecordStore.rewrapObject`.
 *
 * @example
 * const revision = await rewrapS3Object({ client, bucket, key, id, multipartThreshold, copyPartBytes }, header);
 */
export async function rewrapS3Object(target: RewrapTarget, input: RewrapHeader): Promise<string> {
  const what = `record '${target.id}'`;
  let head;
  try {
    head = await target.client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: target.key, IfMatch: input.expectedRevision }));
  } catch (err) {
    throw conditionalError(err, input.expectedRevision, what);
  }
  const size = head.ContentLength ?? 0;
  const oldHeaderLength = positiveInt(input.oldHeaderLength, 'oldHeaderLength', 1, Math.min(size, MAX_HEADER_BYTES));
  const { keyring } = indexOf(head.Metadata, target.id);
  // The origin is read from the new header (a header-only re-wrap keeps it): the index then
  // follows the authenticated header, whatever the old metadata said.
  const metadata = {
    ...head.Metadata,
    [KEYRING_METADATA]: keyring,
    [VERSION_METADATA]: String(input.version),
    [ORIGIN_METADATA]: String(originOfEnvelope(input.newHeader)),
  };
  const bodyLength = size - oldHeaderLength;
  const newSize = input.newHeader.length + bodyLength;
  const source = { versionId: head.VersionId, contentType: head.ContentType ?? 'application/octet-stream', sse: head.ServerSideEncryption, kmsKeyId: head.SSEKMSKeyId };

  if (newSize < target.multipartThreshold) {
    const body = bodyLength === 0 ? Buffer.alloc(0) : await readRange(target, oldHeaderLength, size - 1, input.expectedRevision, source.versionId, what);
    try {
      const out = await target.client.send(
        new PutObjectCommand({
          Bucket: target.bucket,
          Key: target.key,
          Body: Buffer.concat([input.newHeader, body]),
          ContentType: source.contentType,
          Metadata: metadata,
          IfMatch: input.expectedRevision,
          ...(source.sse === 'aws:kms' ? { ServerSideEncryption: source.sse, SSEKMSKeyId: source.kmsKeyId } : {}),
        }),
      );
      return requireEtag(out.ETag);
    } catch (err) {
      throw conditionalError(err, input.expectedRevision, what);
    }
  }

  let uploadId: string | undefined;
  try {
    const created = await target.client.send(
      new CreateMultipartUploadCommand({
        Bucket: target.bucket,
        Key: target.key,
        ContentType: source.contentType,
        Metadata: metadata,
        ...(source.sse === 'aws:kms' ? { ServerSideEncryption: source.sse, SSEKMSKeyId: source.kmsKeyId } : {}),
      }),
    );
    uploadId = created.UploadId;
    if (uploadId === undefined) throw new BackendError('S3 CreateMultipartUpload returned no UploadId', { retryable: false });

    const firstBodyBytes = MIN_PART_BYTES - input.newHeader.length;
    const first = await readRange(target, oldHeaderLength, oldHeaderLength + firstBodyBytes - 1, input.expectedRevision, source.versionId, what);
    const part1 = await target.client.send(
      new UploadPartCommand({ Bucket: target.bucket, Key: target.key, UploadId: uploadId, PartNumber: 1, Body: Buffer.concat([input.newHeader, first]) }),
    );
    const parts: CompletedPart[] = [{ PartNumber: 1, ETag: requireEtag(part1.ETag) }];

    const copyFrom = oldHeaderLength + firstBodyBytes;
    const remaining = size - copyFrom;
    const partBytes = Math.max(target.copyPartBytes, Math.ceil(remaining / (MAX_PARTS - 1)));
    const copySource = `${target.bucket}/${encodeKey(target.key)}${source.versionId === undefined ? '' : `?versionId=${encodeURIComponent(source.versionId)}`}`;
    for (let start = copyFrom, n = 2; start < size; start += partBytes, n++) {
      const end = Math.min(start + partBytes, size) - 1;
      const copied = await target.client.send(
        new UploadPartCopyCommand({
          Bucket: target.bucket,
          Key: target.key,
          UploadId: uploadId,
          PartNumber: n,
          CopySource: copySource,
          CopySourceRange: `bytes=${start}-${end}`,
          CopySourceIfMatch: input.expectedRevision,
        }),
      );
      parts.push({ PartNumber: n, ETag: requireEtag(copied.CopyPartResult?.ETag) });
    }
    const done = await target.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: target.bucket,
        Key: target.key,
        UploadId: uploadId,
        IfMatch: input.expectedRevision,
        MultipartUpload: { Parts: parts },
      }),
    );
    return requireEtag(done.ETag);
  } catch (err) {
    if (uploadId !== undefined) {
      // Best effort: a failed abort leaves an incomplete upload for the lifecycle rule to reap.
      await target.client.send(new AbortMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, UploadId: uploadId })).catch(() => undefined);
    }
    throw conditionalError(err, input.expectedRevision, what);
  }
}

async function readRange(target: RewrapTarget, start: number, end: number, ifMatch: string, versionId: string | undefined, what: string): Promise<Buffer> {
  try {
    const out = await target.client.send(
      new GetObjectCommand({ Bucket: target.bucket, Key: target.key, Range: `bytes=${start}-${end}`, IfMatch: ifMatch, VersionId: versionId }),
    );
    const bytes = Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
    if (bytes.length !== end - start + 1) throw new BackendError(`short read of ${what}`, { retryable: true });
    return bytes;
  } catch (err) {
    throw conditionalError(err, ifMatch, what);
  }
}

function encodeKey(key: string): string {
  return encodeURIComponent(key).replace(/%2F/g, '/');
}
