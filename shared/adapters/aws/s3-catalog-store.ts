/**
 * CatalogStore on S3: one JSON object per keyring in a versioned bucket. Writes are
 * compare-and-swap with S3 conditional writes (`If-None-Match: *` to create, `If-Match: <etag>`
 * to update), so two reconcilers can never both win; versioning keeps every catalog ever written.
 */
import { FUNCTION_SDK_TIMEOUTS, newSdkClient } from './sdk-client-options';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { parseCatalog, type Catalog } from '../../catalog';
import { BackendError, ConflictError, RekeyError, ValidationError } from '../../errors';
import type { CatalogStore, StoredCatalog } from '../../ports/catalog-store';
import { assertKeyringName, isKeyringName } from '../../vocabulary/keyring-name';
import { isAwsNotFound, mapAwsError } from './map-aws-error';

/** Options of {@link S3CatalogStore}. */
export interface S3CatalogStoreOptions {
  /** The versioned bucket holding catalog documents. */
  readonly bucket: string;
  /** Key prefix of the documents. @default 'catalog/' */
  readonly prefix?: string;
  /** A ready S3 client; when absent one is built from `clientConfig`. */
  readonly client?: S3Client;
  /** Configuration of the client built when `client` is absent. */
  readonly clientConfig?: S3ClientConfig;
}

/** One stored revision of a keyring's catalog, newest first in {@link S3CatalogStore.history}. */
export interface CatalogRevision {
  /** S3 version id, to read that revision back with {@link S3CatalogStore.getVersion}. */
  readonly versionId: string;
  readonly etag: string;
  readonly lastModified?: Date;
  readonly isLatest: boolean;
  /** True for a delete marker (the catalog was deleted at that point). */
  readonly deleted: boolean;
}

/** Largest catalog document read back; a keyring with thousands of versions stays far below. */
const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

/**
 * {@link CatalogStore} over S3 conditional writes.
 *
 * @example
 * const store = new S3CatalogStore({ bucket: 'rekey-catalog', clientConfig: { region: 'eu-west-1' } });
 * const current = await store.get('payments');
 * await store.put(next, current?.etag ?? null); // ConflictError when another writer won
 */
export class S3CatalogStore implements CatalogStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  public constructor(options: S3CatalogStoreOptions) {
    if (typeof options.bucket !== 'string' || options.bucket.length === 0) throw new ValidationError('bucket is required');
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? 'catalog/';
    this.client = options.client ?? newSdkClient(S3Client, { ...options.clientConfig }, FUNCTION_SDK_TIMEOUTS);
  }

  /** Reads and validates a keyring's catalog; undefined when absent; BackendError when corrupt. */
  public async get(keyring: string): Promise<StoredCatalog | undefined> {
    return this.read(keyring, undefined);
  }

  /**
   * Reads one historical revision of a catalog (from {@link history}); undefined when that
   * revision is a delete marker or does not exist.
   */
  public async getVersion(keyring: string, versionId: string): Promise<StoredCatalog | undefined> {
    if (typeof versionId !== 'string' || versionId.length === 0) throw new ValidationError('versionId is required');
    return this.read(keyring, versionId);
  }

  /** Names of every keyring with a catalog, sorted. */
  public async list(): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, Delimiter: '/', ContinuationToken: token }),
        );
      } catch (err) {
        throw mapAwsError(err, { resource: `s3://${this.bucket}/${this.prefix}` });
      }
      for (const obj of page.Contents ?? []) {
        const key = obj.Key ?? '';
        if (!key.endsWith('.json')) continue;
        const name = key.slice(this.prefix.length, -'.json'.length);
        // Objects that are not catalogs (a README, a stray upload) are ignored, not listed.
        if (isKeyringName(name)) names.push(name);
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return names.sort();
  }

  /** Writes `catalog` with compare-and-swap; ConflictError when `expectedEtag` is stale. */
  public async put(catalog: Catalog, expectedEtag: string | null): Promise<string> {
    // Throws ValidationError before anything is written.
    parseCatalog(catalog);
    if (expectedEtag !== null && (typeof expectedEtag !== 'string' || expectedEtag.length === 0)) {
      throw new ValidationError('expectedEtag must be a non-empty string, or null to create');
    }
    const key = this.keyFor(catalog.keyring);
    let out;
    try {
      out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: JSON.stringify(catalog),
          ContentType: 'application/json',
          ...(expectedEtag === null ? { IfNoneMatch: '*' } : { IfMatch: expectedEtag }),
        }),
      );
    } catch (err) {
      // If-Match on a key that does not exist answers 404: the expected catalog is gone, which
      // for a compare-and-swap is a lost race like any other.
      if (expectedEtag !== null && isAwsNotFound(err)) {
        throw new ConflictError(`catalog of keyring '${catalog.keyring}' no longer exists`, { cause: err });
      }
      throw mapAwsError(err, { resource: `catalog of keyring '${catalog.keyring}'` });
    }
    if (out.ETag === undefined) throw new BackendError('S3 PutObject returned no ETag', { retryable: false });
    return out.ETag;
  }

  /** Every stored revision of a keyring's catalog, newest first (the bucket is versioned). */
  public async history(keyring: string): Promise<CatalogRevision[]> {
    const key = this.keyFor(keyring);
    const revisions: CatalogRevision[] = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    for (;;) {
      let page;
      try {
        page = await this.client.send(
          new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: key, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }),
        );
      } catch (err) {
        throw mapAwsError(err, { resource: `catalog history of keyring '${keyring}'` });
      }
      const entries = [
        ...(page.Versions ?? []).map((v) => ({ v, deleted: false })),
        ...(page.DeleteMarkers ?? []).map((v) => ({ v, deleted: true })),
      ];
      for (const { v, deleted } of entries) {
        // The prefix also matches longer keys (`a.json` is a prefix of `a.json.json`).
        if (v.Key !== key || v.VersionId === undefined) continue;
        revisions.push({
          versionId: v.VersionId,
          etag: 'ETag' in v && typeof v.ETag === 'string' ? v.ETag : '',
          lastModified: v.LastModified,
          isLatest: v.IsLatest === true,
          deleted,
        });
      }
      if (page.IsTruncated !== true) break;
      keyMarker = page.NextKeyMarker;
      versionIdMarker = page.NextVersionIdMarker;
    }
    return revisions.sort((a, b) => (b.lastModified?.getTime() ?? 0) - (a.lastModified?.getTime() ?? 0) || Number(b.isLatest) - Number(a.isLatest));
  }

  private async read(keyring: string, versionId: string | undefined): Promise<StoredCatalog | undefined> {
    const key = this.keyFor(keyring);
    let text: string;
    let etag: string | undefined;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }));
      if ((out.ContentLength ?? 0) > MAX_DOCUMENT_BYTES) {
        throw new BackendError(`catalog of keyring '${keyring}' is larger than ${MAX_DOCUMENT_BYTES} bytes`, { retryable: false });
      }
      text = (await out.Body?.transformToString('utf8')) ?? '';
      etag = out.ETag;
    } catch (err) {
      // A version id of a delete marker answers 405 MethodNotAllowed: that revision has no document.
      if (isAwsNotFound(err) || (versionId !== undefined && (err as { name?: string }).name === 'MethodNotAllowed')) return undefined;
      throw mapAwsError(err, { resource: `catalog of keyring '${keyring}'` });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new BackendError(`catalog of keyring '${keyring}' is corrupt: not JSON`, { retryable: false });
    }
    let catalog: Catalog;
    try {
      catalog = parseCatalog(json);
    } catch (err) {
      const why = err instanceof RekeyError ? err.message : 'invalid';
      throw new BackendError(`catalog of keyring '${keyring}' is corrupt: ${why}`, { retryable: false });
    }
    if (catalog.keyring !== keyring) {
      throw new BackendError(`catalog stored for keyring '${keyring}' names another keyring`, { retryable: false });
    }
    if (etag === undefined) throw new BackendError('S3 GetObject returned no ETag', { retryable: false });
    return { catalog, etag };
  }

  private keyFor(keyring: string): string {
    assertKeyringName(keyring);
    return `${this.prefix}${keyring}.json`;
  }
}
