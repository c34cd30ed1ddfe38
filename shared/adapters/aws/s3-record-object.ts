/**
 * What a record object on S3 looks like to rekey, shared by the S3RecordStore and its
 * payload-preserving header rewrite: the metadata that indexes it, the limits of the S3 parts
 * API, and how a failed conditional request on it reads.
 */
import type { StorageClass } from '@aws-sdk/client-s3';
import { BackendError, ConflictError, NotARecordError, ValidationError } from '../../errors';
import { KEYRING_METADATA, ORIGIN_METADATA, VERSION_METADATA } from '../../envelope/s3-object-layout';

// The layout of a record object is the envelope layer's (the `rekey` package reads it too).
export {
  envelopeFromS3Object,
  HEADER_METADATA,
  headerFromMetadata,
  KEYRING_METADATA,
  MAX_METADATA_HEADER_BYTES,
  metadataHolding,
  ORIGIN_METADATA,
  originOfEnvelope,
  recordIndexMetadata,
  s3ObjectFromEnvelope,
  splitEnvelope,
  VERSION_METADATA,
} from '../../envelope/s3-object-layout';
import { versionNumber } from '../../vocabulary/names';
import { isAwsNotFound, mapAwsError } from './map-aws-error';



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
  /** Whether the object's SSE-KMS uses an S3 Bucket Key. */
  readonly bucketKeyEnabled?: boolean | undefined;
  /** The system metadata a rewrite with new user metadata must restate (a copy with `MetadataDirective: REPLACE` drops it). */
  readonly headers?: SystemHeaders;
}

/** System metadata of an object besides its content type. */
export interface SystemHeaders {
  readonly CacheControl?: string | undefined;
  readonly ContentDisposition?: string | undefined;
  readonly ContentEncoding?: string | undefined;
  readonly ContentLanguage?: string | undefined;
  readonly Expires?: Date | undefined;
  readonly WebsiteRedirectLocation?: string | undefined;
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
  BucketKeyEnabled?: boolean;
  CacheControl?: string;
  ContentDisposition?: string;
  ContentEncoding?: string;
  ContentLanguage?: string;
  Expires?: Date;
  WebsiteRedirectLocation?: string;
}): ObjectFacts {
  return {
    etag: requireEtag(out.ETag),
    size: totalSize(out.ContentRange, out.ContentLength),
    metadata: out.Metadata,
    contentType: out.ContentType ?? 'application/octet-stream',
    sse: out.ServerSideEncryption,
    kmsKeyId: out.SSEKMSKeyId,
    storageClass: out.StorageClass,
    bucketKeyEnabled: out.BucketKeyEnabled,
    headers: {
      CacheControl: out.CacheControl,
      ContentDisposition: out.ContentDisposition,
      ContentEncoding: out.ContentEncoding,
      ContentLanguage: out.ContentLanguage,
      Expires: out.Expires,
      WebsiteRedirectLocation: out.WebsiteRedirectLocation,
    },
  };
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

/**
 * The settings a rewrite carries over from the old object: its SSE-S3, SSE-KMS or DSSE-KMS
 * encryption (key and Bucket Key), its storage class and its system metadata (a PUT, or a copy
 * with new user metadata, would otherwise fall back to the bucket's default encryption, STANDARD,
 * and none). An `Expires` the SDK could not parse as a date (say `0`) is not carried.
 */
export function keptSettings(facts: ObjectFacts): {
  ServerSideEncryption?: 'AES256' | 'aws:kms' | 'aws:kms:dsse';
  SSEKMSKeyId?: string | undefined;
  BucketKeyEnabled?: boolean;
  StorageClass?: StorageClass;
} & SystemHeaders {
  const kms = facts.sse === 'aws:kms' || facts.sse === 'aws:kms:dsse';
  const headers = Object.fromEntries(Object.entries(facts.headers ?? {}).filter(([, v]) => v !== undefined)) as SystemHeaders;
  return {
    // SSE-S3 is restated too: in a bucket whose default is SSE-KMS it would otherwise change.
    ...(facts.sse === 'AES256' ? { ServerSideEncryption: 'AES256' as const } : {}),
    ...(kms ? { ServerSideEncryption: facts.sse as 'aws:kms' | 'aws:kms:dsse', SSEKMSKeyId: facts.kmsKeyId } : {}),
    // S3 answers the Bucket Key header only when it is on: absent means off, which a bucket default could change.
    ...(kms ? { BucketKeyEnabled: facts.bucketKeyEnabled ?? false } : {}),
    ...(facts.storageClass === undefined ? {} : { StorageClass: facts.storageClass as StorageClass }),
    ...headers,
  };
}
