/**
 * Where the customer records live: one S3 object per customer in the application's own bucket.
 * The port is small (get, conditional put) so the handler runs against an in-memory bucket in
 * local development and against S3 (or an S3 emulator) everywhere else.
 *
 * The objects follow the layout of a rekey record target (docs/deploy.md, `recordTargets`):
 * key `<prefix><id>`, body = the envelope, metadata naming its keyring, key version and data-key
 * origin, envelope bound to the record id. The platform team lists this bucket and prefix as a
 * record target, and rekey's sweep and emergency revocation then re-encrypt these objects in
 * place, with the same conditional writes as this application, so a revoked version never
 * strands a customer.
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

/** Caller-context key under which rekey's record targets bind an envelope to its record id. */
export const RECORD_ID_CONTEXT_KEY = 'rekey:record-id';
/** Object metadata keys (without `x-amz-meta-`) that index a record target's objects. */
export const RECORD_METADATA = { keyring: 'rekey-keyring', version: 'rekey-version', origin: 'rekey-origin' } as const;

/** One stored record: its envelope and the revision a conditional write names. */
export interface StoredRecord {
  readonly envelope: Buffer;
  /** The S3 ETag (or the in-memory revision). */
  readonly etag: string;
}

/** What the envelope's header says, written beside it so rekey finds records by version without reading them. */
export interface RecordIndex {
  readonly keyring: string;
  readonly version: number;
  readonly originVersion: number;
}

/** The write lost a race: the stored record is no longer the one read. */
export class RecordConflictError extends Error {
  public constructor(id: string) {
    super(`record '${id}' changed since it was read`);
    this.name = 'RecordConflictError';
  }
}

/** The port the handler uses. */
export interface RecordBucket {
  get(id: string): Promise<StoredRecord | undefined>;
  /** Writes the record; with `ifMatch`, only if the stored revision is still that one (RecordConflictError otherwise). */
  put(id: string, envelope: Buffer, index: RecordIndex, condition?: { readonly ifMatch?: string }): Promise<string>;
}

/** The envelope is bound to its record id, as rekey's re-encryption binds it again when it rewrites the object. */
export function recordContext(id: string): Readonly<Record<string, string>> {
  return { [RECORD_ID_CONTEXT_KEY]: id };
}

/** Options of {@link S3RecordBucket}. */
export interface S3RecordBucketOptions {
  readonly bucket: string;
  /** Key prefix of the records (the record target's prefix). @default 'customers/' */
  readonly prefix?: string;
  readonly client?: S3Client;
}

/**
 * {@link RecordBucket} on S3 with conditional writes (`If-Match` on the ETag read).
 *
 * @example
 * const records = new S3RecordBucket({ bucket: 'customer-records', prefix: 'customers/' });
 * const etag = await records.put('c-42', envelope, { keyring: 'pii', version: 3, originVersion: 3 });
 */
export class S3RecordBucket implements RecordBucket {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  public constructor(options: S3RecordBucketOptions) {
    if (options.bucket === '') throw new Error('S3RecordBucket needs a bucket name');
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? 'customers/';
    this.client = options.client ?? new S3Client({});
  }

  /**
   * The bucket named by the function's environment (RECORDS_BUCKET, RECORDS_PREFIX), as the
   * example's CDK app sets it.
   *
   * @example
   * const records = S3RecordBucket.fromEnv(process.env);
   */
  public static fromEnv(env: Readonly<Record<string, string | undefined>>, client?: S3Client): S3RecordBucket {
    const bucket = env.RECORDS_BUCKET;
    if (bucket === undefined || bucket === '') throw new Error('RECORDS_BUCKET is not set');
    return new S3RecordBucket({ bucket, ...(env.RECORDS_PREFIX === undefined ? {} : { prefix: env.RECORDS_PREFIX }), ...(client === undefined ? {} : { client }) });
  }

  public async get(id: string): Promise<StoredRecord | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + id }));
      const body = await out.Body?.transformToByteArray();
      return { envelope: Buffer.from(body ?? new Uint8Array()), etag: out.ETag ?? '' };
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  public async put(id: string, envelope: Buffer, index: RecordIndex, condition: { readonly ifMatch?: string } = {}): Promise<string> {
    try {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + id,
          Body: envelope,
          ContentType: 'application/octet-stream',
          Metadata: { [RECORD_METADATA.keyring]: index.keyring, [RECORD_METADATA.version]: String(index.version), [RECORD_METADATA.origin]: String(index.originVersion) },
          ...(condition.ifMatch === undefined ? {} : { IfMatch: condition.ifMatch }),
        }),
      );
      return out.ETag ?? '';
    } catch (err) {
      // https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html: a failed If-Match is 412 PreconditionFailed.
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412) throw new RecordConflictError(id);
      throw err;
    }
  }
}

/**
 * {@link RecordBucket} in process memory, for local development (src/local.ts) and quick tests.
 *
 * @example
 * const records = new MemoryRecordBucket();
 */
export class MemoryRecordBucket implements RecordBucket {
  private readonly objects = new Map<string, StoredRecord & { readonly index: RecordIndex }>();
  private revision = 0;

  public get(id: string): Promise<StoredRecord | undefined> {
    const found = this.objects.get(id);
    return Promise.resolve(found === undefined ? undefined : { envelope: Buffer.from(found.envelope), etag: found.etag });
  }

  public put(id: string, envelope: Buffer, index: RecordIndex, condition: { readonly ifMatch?: string } = {}): Promise<string> {
    if (condition.ifMatch !== undefined && this.objects.get(id)?.etag !== condition.ifMatch) return Promise.reject(new RecordConflictError(id));
    const etag = `"${++this.revision}"`;
    this.objects.set(id, { envelope: Buffer.from(envelope), etag, index });
    return Promise.resolve(etag);
  }
}
