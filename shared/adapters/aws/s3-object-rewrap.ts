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
import { BackendError, ValidationError } from '../../errors';
import { KEY_SLOT_LENGTH, probeHeaderLength } from '../../envelope/format';
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
  /**
   * Check, before anything is written, that the stored header is exactly `oldHeaderLength`
   * bytes long and that its authenticated part equals the new header's (what a re-wrap keeps):
   * the payload's AAD and key commitment are then unchanged, so the body still decrypts. The
   * old header is read in the same ranged GET as the first body bytes, so it costs no request.
   * A mismatch is a ValidationError and nothing is written. `putHeaders` sets it; the raw
   * `rewrapObject` (any bytes) does not.
   */
  readonly checkOldHeader?: boolean;
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
  const source = { contentType: head.ContentType ?? 'application/octet-stream', sse: head.ServerSideEncryption, kmsKeyId: head.SSEKMSKeyId };

  if (newSize < target.multipartThreshold) {
    const from = input.checkOldHeader === true ? 0 : oldHeaderLength;
    const read = size - from === 0 ? Buffer.alloc(0) : await readRange(target, from, size - 1, input.expectedRevision, what);
    if (input.checkOldHeader === true) checkOldHeader(read, input, what);
    const body = read.subarray(oldHeaderLength - from);
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
    const from = input.checkOldHeader === true ? 0 : oldHeaderLength;
    const read = await readRange(target, from, oldHeaderLength + firstBodyBytes - 1, input.expectedRevision, what);
    if (input.checkOldHeader === true) checkOldHeader(read, input, what);
    const first = read.subarray(oldHeaderLength - from);
    const part1 = await target.client.send(
      new UploadPartCommand({ Bucket: target.bucket, Key: target.key, UploadId: uploadId, PartNumber: 1, Body: Buffer.concat([input.newHeader, first]) }),
    );
    const parts: CompletedPart[] = [{ PartNumber: 1, ETag: requireEtag(part1.ETag) }];

    const copyFrom = oldHeaderLength + firstBodyBytes;
    const remaining = size - copyFrom;
    const partBytes = Math.max(target.copyPartBytes, Math.ceil(remaining / (MAX_PARTS - 1)));
    // Not pinned to a VersionId: `CopySourceIfMatch` on the ETag that was checked already
    // refuses any other content, and a version-pinned read would need s3:GetObjectVersion,
    // which the functions' roles do not have on record targets.
    const copySource = `${target.bucket}/${encodeKey(target.key)}`;
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

// Guarded by If-Match rather than pinned to a VersionId (see the copy source above).
async function readRange(target: RewrapTarget, start: number, end: number, ifMatch: string, what: string): Promise<Buffer> {
  try {
    const out = await target.client.send(
      new GetObjectCommand({ Bucket: target.bucket, Key: target.key, Range: `bytes=${start}-${end}`, IfMatch: ifMatch }),
    );
    const bytes = Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
    if (bytes.length !== end - start + 1) throw new BackendError(`short read of ${what}`, { retryable: true });
    return bytes;
  } catch (err) {
    throw conditionalError(err, ifMatch, what);
  }
}

/** Throws ValidationError unless `bytes` start with a header the new one re-wraps (see {@link RewrapHeader.checkOldHeader}). */
function checkOldHeader(bytes: Buffer, input: RewrapHeader, what: string): void {
  let length: number | undefined;
  try {
    length = probeHeaderLength(bytes);
  } catch {
    length = undefined;
  }
  // Everything but the key slot is authenticated, and a re-wrap changes only the key slot.
  const ah = input.oldHeaderLength - KEY_SLOT_LENGTH;
  if (
    length !== input.oldHeaderLength ||
    input.newHeader.length !== input.oldHeaderLength ||
    bytes.length < input.oldHeaderLength ||
    !bytes.subarray(0, ah).equals(input.newHeader.subarray(0, ah))
  ) {
    throw new ValidationError(`the new header of ${what} does not re-wrap its stored header`);
  }
}

function encodeKey(key: string): string {
  return encodeURIComponent(key).replace(/%2F/g, '/');
}
