/**
 * ConsumerRegistry on S3: `consumers/<keyring>.json` in the catalog bucket, outside the catalog
 * prefix. Writes are compare-and-swap with S3 conditional writes (`If-None-Match: *` to create,
 * `If-Match: <etag>` to update, "Add preconditions to S3 operations with conditional requests",
 * Amazon S3 User Guide); a lost race is a ConflictError, which is retryable. Reads are bounded
 * in size, so a huge object planted under the prefix cannot exhaust key-access's memory.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { decodeConsumerDocument, MAX_REGISTRY_DOCUMENT_BYTES, parseConsumerDocument, type ConsumerDocument } from '../../consumers/consumer-document';
import { BackendError, ConflictError, ValidationError } from '../../errors';
import type { ConsumerRegistry, StoredConsumers } from '../../ports/consumer-registry';
import { consumerRegistryKey, CONSUMER_REGISTRY_PREFIX } from '../../vocabulary/consumer-registry';
import { assertKeyringName, isKeyringName } from '../../vocabulary/keyring-name';
import { isAwsNotFound, mapAwsError } from './map-aws-error';

/** Options of {@link S3ConsumerRegistry}. */
export interface S3ConsumerRegistryOptions {
  readonly client: S3Client;
  /** The catalog bucket. */
  readonly bucket: string;
}

/**
 * {@link ConsumerRegistry} over S3 conditional writes.
 *
 * @example
 * const registry = new S3ConsumerRegistry({ client: new S3Client({}), bucket: 'rekey-catalog' });
 * const current = await registry.get('pii');
 * await registry.put(next, current?.revision ?? null); // ConflictError when another writer won
 */
export class S3ConsumerRegistry implements ConsumerRegistry {
  private readonly client: S3Client;
  private readonly bucket: string;

  public constructor(options: S3ConsumerRegistryOptions) {
    if (typeof options.bucket !== 'string' || options.bucket.length === 0) throw new ValidationError('bucket is required');
    this.client = options.client;
    this.bucket = options.bucket;
  }

  /** @inheritdoc */
  public async get(keyring: string): Promise<StoredConsumers | undefined> {
    assertKeyringName(keyring);
    const key = consumerRegistryKey(keyring);
    let text: string;
    let etag: string | undefined;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if ((out.ContentLength ?? 0) > MAX_REGISTRY_DOCUMENT_BYTES) {
        // Not read at all: the body (a Node stream in Lambda) is dropped unconsumed.
        (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
        throw new BackendError(`consumer registry of keyring '${keyring}' is larger than ${MAX_REGISTRY_DOCUMENT_BYTES} bytes`, { retryable: false });
      }
      text = (await out.Body?.transformToString('utf8')) ?? '';
      etag = out.ETag;
    } catch (err) {
      if (isAwsNotFound(err)) return undefined;
      throw mapAwsError(err, { resource: `s3://${this.bucket}/${key}` });
    }
    // A response without Content-Length is bounded after the fact.
    if (Buffer.byteLength(text, 'utf8') > MAX_REGISTRY_DOCUMENT_BYTES) {
      throw new BackendError(`consumer registry of keyring '${keyring}' is larger than ${MAX_REGISTRY_DOCUMENT_BYTES} bytes`, { retryable: false });
    }
    const document = decodeConsumerDocument(keyring, text);
    if (etag === undefined) throw new BackendError('S3 GetObject returned no ETag', { retryable: false });
    return { document, revision: etag };
  }

  /** @inheritdoc */
  public async put(document: ConsumerDocument, expectedRevision: string | null): Promise<string> {
    const valid = parseConsumerDocument(document);
    if (expectedRevision !== null && (typeof expectedRevision !== 'string' || expectedRevision.length === 0)) {
      throw new ValidationError('expectedRevision must be a non-empty string, or null to create');
    }
    const key = consumerRegistryKey(valid.keyring);
    let out;
    try {
      out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: JSON.stringify(valid),
          ContentType: 'application/json',
          ...(expectedRevision === null ? { IfNoneMatch: '*' } : { IfMatch: expectedRevision }),
        }),
      );
    } catch (err) {
      // If-Match on a key that is gone answers 404: the document read is gone, a lost race too.
      if (expectedRevision !== null && isAwsNotFound(err)) {
        throw new ConflictError(`consumer registry of keyring '${valid.keyring}' changed since it was read`, { cause: err });
      }
      throw mapAwsError(err, { resource: `s3://${this.bucket}/${key}` });
    }
    if (out.ETag === undefined) throw new BackendError('S3 PutObject returned no ETag', { retryable: false });
    return out.ETag;
  }

  /** @inheritdoc */
  public async list(): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: CONSUMER_REGISTRY_PREFIX, Delimiter: '/', ContinuationToken: token }));
      } catch (err) {
        throw mapAwsError(err, { resource: `s3://${this.bucket}/${CONSUMER_REGISTRY_PREFIX}` });
      }
      for (const obj of page.Contents ?? []) {
        const key = obj.Key ?? '';
        if (!key.endsWith('.json')) continue;
        const name = key.slice(CONSUMER_REGISTRY_PREFIX.length, -'.json'.length);
        if (isKeyringName(name)) names.push(name);
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return names.sort();
  }
}
