/**
 * What a record object on S3 looks like to rekey, shared by the S3RecordStore and its
 * payload-preserving header rewrite: the metadata that indexes it, the limits of the S3 parts
 * API, and how a failed conditional request on it reads.
 */
import type { StorageClass } from '@aws-sdk/client-s3';
import { BackendError, ConflictError, NotARecordError, ValidationError } from '../../errors';
import { parseHeader } from '../../envelope/format';
import { versionNumber } from '../../vocabulary/names';
import { isAwsNotFound, mapAwsError } from './map-aws-error';

/** Metadata key (without `x-amz-meta-`) holding the record's keyring. */
export const KEYRING_METADATA = 'rekey-keyring';
/** Metadata key (without `x-amz-meta-`) holding the record's key version. */
export const VERSION_METADATA = 'rekey-version';

/**
 * Metadata key (without `x-amz-meta-`) holding the origin version of the record's data key
 * (read from the envelope header when written; a header-only re-wrap keeps it).
 */
export const ORIGIN_METADATA = 'rekey-origin';

/**
 * Metadata key (without `x-amz-meta-`) holding the envelope header, base64, of a record object
 * in the metadata layout (`S3RecordStore` option `layout: 'metadata'`): the object body is then
 * the envelope without its header, and a header re-wrap is a metadata-only CopyObject.
 */
export const HEADER_METADATA = 'rekey-header';

/**
 * Longest header the metadata layout keeps in metadata: S3 limits the user-defined metadata of
 * a PUT to 2 KB (keys and values, "Working with object metadata", Amazon S3 User Guide,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html); 1,200 bytes are
 * 1,600 in base64, which leaves room for the index keys. A longer header (a large stored
 * context) keeps the body layout for that object.
 */
export const MAX_METADATA_HEADER_BYTES = 1200;

/** S3's largest CopyObject source; beyond it a metadata-only rewrite is a multipart copy. */
export const MAX_COPY_OBJECT_BYTES = 5 * 1024 * 1024 * 1024;

/** S3's smallest part size for every part of a multipart upload but the last. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** S3's largest part size. */
export const MAX_PART_BYTES = 5 * 1024 * 1024 * 1024;
/** S3's most parts in one multipart upload. */
export const MAX_PARTS = 10_000;
/** Longest header accepted by `S3RecordStore.readHeader` and `S3RecordStore.rewrapObject`. */
export const MAX_HEADER_BYTES = 1024 * 1024;

/** `value` when it is an integer from `min` to `max`; else a ValidationError naming `name`. */
export function positiveInt(value: number, name: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new ValidationError(`${name} must be an integer from ${min} to ${max}`);
  return value;
}

/** The keyring and version an object's metadata indexes it under; a NotARecordError when rekey did not write it. */
export function indexOf(metadata: Record<string, string> | undefined, id: string): { keyring: string; version: number; originVersion: number } {
  const keyring = metadata?.[KEYRING_METADATA];
  const version = Number(metadata?.[VERSION_METADATA]);
  if (keyring === undefined || !versionNumber.safeParse(version).success) {
    throw new NotARecordError(`record '${id}' has no rekey keyring/version metadata`);
  }
  return { keyring, version, originVersion: originFromMetadata(metadata) };
}

/**
 * The origin version an object's metadata records. An object without it (written before the
 * origin was indexed) gets 1, the oldest possible origin: every revocation then counts it as
 * exposed and re-encrypts it, which writes the metadata.
 */
export function originFromMetadata(metadata: Record<string, string> | undefined): number {
  const origin = Number(metadata?.[ORIGIN_METADATA]);
  return versionNumber.safeParse(origin).success ? origin : 1;
}

/**
 * The origin version an envelope (or a lone header) names, read from its header; 1 (the oldest
 * possible, so never left out of a revocation) for bytes that are no parsable header.
 */
export function originOfEnvelope(bytes: Buffer): number {
  try {
    return parseHeader(bytes).originVersion;
  } catch {
    return 1;
  }
}

/** Maps a failed request on a record; a conditional request on a key that vanished is a lost race too, not a plain not-found. */
export function conditionalError(err: unknown, expected: string | null | undefined, what: string): Error {
  if (typeof expected === 'string' && isAwsNotFound(err)) return new ConflictError(`${what} no longer exists`, { cause: err });
  return mapAwsError(err, { resource: what });
}

/** The ETag S3 answered; a BackendError when it answered none. */
export function requireEtag(etag: string | undefined): string {
  if (etag === undefined || etag.length === 0) throw new BackendError('S3 returned no ETag', { retryable: false });
  return etag;
}

/**
 * What one GetObject answer says about a record object besides its bytes: everything a rewrite
 * must carry over (a HEAD would say nothing more), so a rewrite needs no HEAD of its own.
 */
export interface ObjectFacts {
  readonly etag: string;
  /** Size of the whole object (from `Content-Range` on a ranged GET). */
  readonly size: number;
  readonly metadata: Record<string, string> | undefined;
  readonly contentType: string;
  readonly sse: string | undefined;
  readonly kmsKeyId: string | undefined;
  /** Absent for STANDARD; a rewrite carries it (a CopyObject without it would make the object STANDARD). */
  readonly storageClass?: string | undefined;
}

/**
 * The facts of a GetObject answer (ranged or not).
 *
 * @example
 * const out = await client.send(new GetObjectCommand({ Bucket, Key, Range: 'bytes=0-8345' }));
 * const { size, etag } = factsOf(out);
 */
export function factsOf(out: {
  ETag?: string;
  ContentRange?: string;
  ContentLength?: number;
  Metadata?: Record<string, string>;
  ContentType?: string;
  ServerSideEncryption?: string;
  SSEKMSKeyId?: string;
  StorageClass?: string;
}): ObjectFacts {
  return {
    etag: requireEtag(out.ETag),
    size: totalSize(out.ContentRange, out.ContentLength),
    metadata: out.Metadata,
    contentType: out.ContentType ?? 'application/octet-stream',
    sse: out.ServerSideEncryption,
    kmsKeyId: out.SSEKMSKeyId,
    storageClass: out.StorageClass,
  };
}

/**
 * The header a metadata-layout object keeps in its metadata; undefined for a body-layout object.
 * A value that is no base64 of a header is a NotARecordError (nothing rekey wrote).
 */
export function headerFromMetadata(metadata: Record<string, string> | undefined, id: string): Buffer | undefined {
  const value = metadata?.[HEADER_METADATA];
  if (value === undefined) return undefined;
  const header = Buffer.from(value, 'base64');
  // Bounded before parsing: a value longer than any header rekey writes is refused outright.
  if (value.length > Math.ceil(MAX_METADATA_HEADER_BYTES / 3) * 4 || header.length === 0 || header.toString('base64') !== value) {
    throw new NotARecordError(`record '${id}' has malformed rekey header metadata`);
  }
  try {
    if (parseHeader(header).headerLength !== header.length) throw new Error('trailing bytes');
  } catch {
    throw new NotARecordError(`record '${id}' has malformed rekey header metadata`);
  }
  return header;
}

/**
 * How an envelope is stored in the metadata layout: its header (for the metadata) and the rest
 * (the object body); undefined when it must keep the body layout (no parsable header, a header
 * longer than {@link MAX_METADATA_HEADER_BYTES}, or nothing after the header).
 */
export function splitEnvelope(envelope: Buffer): { header: Buffer; body: Buffer } | undefined {
  let length: number;
  try {
    length = parseHeader(envelope).headerLength;
  } catch {
    return undefined;
  }
  if (length > MAX_METADATA_HEADER_BYTES || length >= envelope.length) return undefined;
  return { header: Buffer.from(envelope.subarray(0, length)), body: envelope.subarray(length) };
}

/** The whole object's size: the total of a `Content-Range` ("bytes 0-N/TOTAL"), else the body length. */
export function totalSize(contentRange: string | undefined, contentLength: number | undefined): number {
  const m = /\/(\d+)$/.exec(contentRange ?? '');
  return m?.[1] !== undefined ? Number(m[1]) : (contentLength ?? 0);
}

/** The `x-amz-copy-source` of an object: its bucket and URL-encoded key, slashes kept. */
export function copySourceOf(bucket: string, key: string): string {
  return `${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`;
}

/** The settings a rewrite carries over from the old object: its SSE-KMS key and storage class (a PUT or copy without them would change both). */
export function keptSettings(facts: ObjectFacts): { ServerSideEncryption?: 'aws:kms'; SSEKMSKeyId?: string | undefined; StorageClass?: StorageClass } {
  return {
    ...(facts.sse === 'aws:kms' ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: facts.kmsKeyId } : {}),
    ...(facts.storageClass === undefined ? {} : { StorageClass: facts.storageClass as StorageClass }),
  };
}
