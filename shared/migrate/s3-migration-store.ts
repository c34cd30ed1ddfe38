/**
 * A {@link MigrationStore} over the objects of one S3 prefix, as an application wrote them
 * before rekey (no rekey metadata: the S3RecordStore does not see them as records). Objects are
 * listed in key order (ListObjectsV2 with StartAfter, so objects rewritten meanwhile never shift
 * the position), read whole with their ETag, and replaced through S3RecordStore.put with
 * `If-Match` on that ETag: afterwards each object is a rekey record (envelope body, keyring,
 * version and origin metadata) that the S3RecordStore and the sweeps see.
 *
 * S3 conditional writes: https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 * (PutObject `If-Match`: 412 Precondition Failed when the ETag changed, 404 when the object is gone).
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { LimitExceededError, NotARecordError, ValidationError } from '../errors';
import { ENVELOPE_LIMITS } from '../envelope/limits';
import { isAwsNotFound, mapAwsError } from '../adapters/aws/map-aws-error';
import { newSdkClient, type SdkTimeouts } from '../adapters/aws/sdk-client-options';
import { conditionalError, envelopeFromS3Object, HEADER_METADATA, KEYRING_METADATA, ORIGIN_METADATA, originOfEnvelope, requireEtag, VERSION_METADATA } from '../adapters/aws/s3-record-object';
import type { MigratedWrite, MigrationStore, RawRecord, RawRecordPage } from './migration-ports';

/**
 * Metadata key (without `x-amz-meta-`) keeping the content type the object had before it was
 * migrated (the envelope itself is `application/octet-stream`).
 */
export const SOURCE_CONTENT_TYPE_METADATA = 'rekey-source-content-type';

/** Attribute of a read object holding its content type (the others are its user metadata); no metadata key can contain NUL, so it never collides. */
const CONTENT_TYPE_ATTRIBUTE = '\u0000content-type';

/** Options of {@link S3MigrationStore}. */
export interface S3MigrationStoreOptions {
  readonly bucket: string;
  /** Key prefix of the objects to migrate. @default 'records/' */
  readonly prefix?: string;
  readonly client?: S3Client;
  readonly clientConfig?: S3ClientConfig;
  /** Largest object read, in bytes (a larger one fails alone, unread). @default the one-shot envelope limit (64 MiB) */
  readonly maxRecordBytes?: number;
}

/**
 * Migration over an S3 prefix.
 *
 * @example
 * const store = new S3MigrationStore({ bucket: 'orders-data', prefix: 'orders/' });
 * await migrateRecords({ keyring: 'orders', from: 'plaintext', store, envelopes: rekey, checkpoint });
 */
/**
 * Timeouts of the client the store makes when none is injected: a silent endpoint fails fast
 * (connect), and a request may take a minute, since one object moves up to 64 MiB each way.
 */
const MIGRATION_SDK_TIMEOUTS: SdkTimeouts = { connectionTimeoutMs: 3_000, requestTimeoutMs: 60_000 };

export class S3MigrationStore implements MigrationStore {
  public readonly label: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly maxBytes: number;

  public constructor(options: S3MigrationStoreOptions) {
    if (typeof options.bucket !== 'string' || options.bucket.length === 0) throw new ValidationError('bucket is required');
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? 'records/';
    this.client = options.client ?? newSdkClient(S3Client, { ...options.clientConfig }, MIGRATION_SDK_TIMEOUTS);
    this.maxBytes = options.maxRecordBytes ?? ENVELOPE_LIMITS.oneShotMaxPlaintext;
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes < 1) throw new ValidationError('maxRecordBytes must be a positive integer');
    this.label = `s3://${this.bucket}/${this.prefix}`;
  }

  public async list(options: { cursor?: string; limit: number }): Promise<RawRecordPage> {
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
    try {
      const out = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, StartAfter: after, MaxKeys: Math.min(1000, Math.max(1, options.limit)) }),
      );
      const keys = (out.Contents ?? []).map((o) => o.Key).filter((k): k is string => k !== undefined);
      const last = keys[keys.length - 1];
      // The prefix's own "folder" object is listed but is no record.
      const ids = keys.filter((k) => k.length > this.prefix.length).map((k) => k.slice(this.prefix.length));
      return out.IsTruncated === true && last !== undefined ? { ids, cursor: encodeCursor(last) } : { ids };
    } catch (err) {
      throw mapAwsError(err, { resource: this.label });
    }
  }

  public async read(id: string): Promise<RawRecord | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: `${this.prefix}${id}` }));
      if (out.ContentLength !== undefined && out.ContentLength > this.maxBytes) {
        // Not downloaded: the stream is dropped unread.
        (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
        throw new LimitExceededError(`object '${id.slice(0, 128)}' is larger than ${this.maxBytes} bytes`);
      }
      const body = Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
      // An object in the metadata layout keeps its envelope header in its metadata: its body alone
      // is ciphertext that would look like plaintext, so the envelope is read whole, as a rekey record.
      let bytes: Buffer;
      try {
        bytes = envelopeFromS3Object({ body, metadata: out.Metadata });
      } catch (err) {
        if (err instanceof NotARecordError) throw new ValidationError(`object '${id.slice(0, 128)}' has malformed rekey header metadata; it is left as it is`);
        throw err;
      }
      if (out.ETag === undefined) throw new ValidationError(`object '${id.slice(0, 128)}' has no ETag`);
      const attributes: Record<string, string> = { ...(out.Metadata ?? {}) };
      if (out.ContentType !== undefined) attributes[CONTENT_TYPE_ATTRIBUTE] = out.ContentType;
      return { id, bytes, revision: out.ETag, attributes };
    } catch (err) {
      if (isAwsNotFound(err)) return undefined;
      if (err instanceof LimitExceededError || err instanceof ValidationError) throw err;
      throw mapAwsError(err, { resource: `object '${id.slice(0, 128)}'` });
    }
  }

  public async replace(read: RawRecord, write: MigratedWrite): Promise<string> {
    const { [CONTENT_TYPE_ATTRIBUTE]: contentType, ...userMetadata } = read.attributes ?? {};
    // Never over a rekey record in the metadata layout (read() hands it over whole, as a rekey envelope).
    if (userMetadata[HEADER_METADATA] !== undefined) throw new ValidationError(`object '${read.id.slice(0, 128)}' is a rekey record (metadata layout); it is not migrated again`);
    // A migrated object is indexed like every rekey record; the application's own keys are kept.
    const metadata: Record<string, string> = {
      ...Object.fromEntries(Object.entries(userMetadata).filter(([k]) => !k.startsWith('rekey-'))),
      ...(contentType === undefined || contentType === 'application/octet-stream' ? {} : { [SOURCE_CONTENT_TYPE_METADATA]: contentType }),
      [KEYRING_METADATA]: write.keyring,
      [VERSION_METADATA]: String(write.version),
      [ORIGIN_METADATA]: String(originOfEnvelope(write.envelope)),
    };
    try {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: `${this.prefix}${read.id}`,
          Body: write.envelope,
          ContentType: 'application/octet-stream',
          Metadata: metadata,
          IfMatch: read.revision,
        }),
      );
      return requireEtag(out.ETag);
    } catch (err) {
      throw conditionalError(err, read.revision, `object '${read.id.slice(0, 128)}'`);
    }
  }
}

function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new ValidationError('invalid migration cursor');
  return Buffer.from(cursor, 'base64url').toString('utf8');
}
