/**
 * RecordStore on S3: each record is one object `<prefix><id>`. In the body layout (the default)
 * the object's body is the envelope; in the metadata layout (option `layout: 'metadata'`) the
 * envelope header is in the object metadata (`x-amz-meta-rekey-header`, base64) and the body is
 * the rest, so that a header re-wrap is a metadata-only copy (s3-metadata-layout.ts). Every
 * object says which layout it has, and every store reads both. The keyring and key version are
 * also object metadata (`x-amz-meta-rekey-keyring`, `x-amz-meta-rekey-version`), so that a scan
 * learns a record's version with a HeadObject and never downloads a payload; the envelope header
 * carries them too, authenticated, and remains the truth when the two disagree. The origin
 * version of the record's data key is metadata too (`x-amz-meta-rekey-origin`, read from the
 * header at every write), so a revocation finds every record whose data key the revoked version
 * may have wrapped without reading payloads. The revision is the ETag; writes are conditional
 * (`If-Match` / `If-None-Match`).
 *
 * It is a BatchRecordStore without transactions: `getHeader` is a ranged GET of the header
 * alone (a HeadObject in the metadata layout), `putHeaders` a payload-preserving rewrite per
 * record (see `rewrapObject`) and `putBatch` a conditional PUT per record, each write succeeding
 * or conflicting on its own.
 *
 * On a versioned bucket every overwrite leaves the previous object as a noncurrent version:
 * `purgeExposedCopies` deletes those a revoked version's key could open, once the current object
 * has been re-encrypted past it (see s3-exposed-copies.ts).
 *
 * Requests of a re-wrap (`getHeader` then `putHeaders`), body layout: a record the header read
 * returned whole (the default read covers about 8 KiB) is re-wrapped with one conditional
 * PutObject from a small byte-bounded memo of whole objects (see `wholeObjectMemoBytes`), 2
 * requests in all; a larger one costs one more ranged GET (from the start, `If-Match`), which
 * also carries the size, metadata and SSE settings a HeadObject used to fetch; the multipart
 * path is unchanged but for that HEAD. Metadata layout: a HeadObject and a conditional
 * CopyObject, 2 requests and no body byte. Every write stays conditional on the ETag read.
 *
 * Read replicas: with `replica` (e.g. the replication destination bucket in the reader's
 * Region), `get`, `getHeader`, scans and counts read the replica, and every write (`put`,
 * `putHeaders`, `putBatch`, `delete`, `rewrapObject`, `purgeExposedCopies`) goes to the primary
 * bucket, conditional on the ETag that was read. A replica's ETag is only the primary's when
 * replication kept it (not guaranteed under SSE-KMS, see the replica option), and a lagging
 * replica holds older objects: a write based on older data then answers 412 and is a conflict,
 * never an overwrite of newer data. In the metadata layout a header re-wrap keeps the ETag, so a
 * header read from a replica one re-wrap behind can still land over the newer header: both wrap
 * the same data key, and the later write wins.
 *
 * Scale note: `scanByVersion` and `countByVersion` list the prefix and HEAD every object the
 * store has not seen before. A listing memo (key → ETag and LastModified from the listing, and
 * the record's keyring and version from its HEAD), kept while the store lives (a warm Lambda),
 * turns a repeated count of unchanged objects into LIST calls alone: an overwrite changes the
 * ETag or the LastModified, so a changed object is always HEADed again. That is
 * right for thousands of records and for a sweep that bounds its work per call; at millions of
 * objects an S3 Inventory report (or a version index kept beside the records) should feed the
 * same API, and a bulk re-encryption fans out on Step Functions Distributed Map over that
 * listing instead of one caller walking it.
 */
import { FUNCTION_SDK_TIMEOUTS, newSdkClient } from './sdk-client-options';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { BackendError, ConflictError, NotARecordError, ValidationError } from '../../errors';
import { parseHeader, probeHeaderLength } from '../../envelope/format';
import { HEAD_PROBE_LENGTH } from '../../envelope/envelope-head';
import type {
  BatchRecordStore,
  BatchWriteOutcome,
  ConditionalWrite,
  CopyKeepingRecordStore,
  CopyPurgeReport,
  RecordPage,
  RecordRef,
  StoredHeader,
  StoredRecord,
} from '../../ports/record-store';
import { runBounded } from '../../reencrypt/bounded';
import { headerIndex } from '../record-header-index';
import { assertKeyringName } from '../../vocabulary/keyring-name';
import { versionNumber } from '../../vocabulary/names';
import { isAwsNotFound, mapAwsError } from './map-aws-error';
import { rewrapS3Object, WholeObjectMemo, type RewrapOptions } from './s3-object-rewrap';
import { headAt, HeadMemo } from './s3-metadata-layout';
import { purgeExposedCopies } from './s3-exposed-copies';
import {
  conditionalError,
  envelopeFromS3Object,
  factsOf,
  HEADER_METADATA,
  headerFromMetadata,
  indexOf,
  KEYRING_METADATA,
  MAX_HEADER_BYTES,
  MAX_PART_BYTES,
  MIN_PART_BYTES,
  originFromMetadata,
  originOfEnvelope,
  positiveInt,
  recordIndexMetadata,
  requireEtag,
  splitEnvelope,
  type ObjectFacts,
  VERSION_METADATA,
} from './s3-record-object';

// Part of this module's public API since before the header rewrite moved out.
export { HEADER_METADATA, KEYRING_METADATA, ORIGIN_METADATA, VERSION_METADATA } from './s3-record-object';

/**
 * Where a record object keeps its envelope header: at the start of the body (`'body'`, the
 * object is the envelope) or in the object metadata (`'metadata'`, `x-amz-meta-rekey-header`,
 * base64, and the body is the rest). See {@link S3RecordStoreOptions.layout}.
 */
export type S3RecordLayout = 'body' | 'metadata';

/** Options of {@link S3RecordStore}. */
export interface S3RecordStoreOptions {
  readonly bucket: string;
  /** Key prefix of record objects. @default 'records/' */
  readonly prefix?: string;
  readonly client?: S3Client;
  readonly clientConfig?: S3ClientConfig;
  /** Parallel HeadObject calls while scanning. @default 16 */
  readonly headConcurrency?: number;
  /**
   * Objects whose HEAD the listing memo keeps (about 200 bytes each; oldest dropped first); 0
   * turns the memo off. @default 100000
   */
  readonly listingMemoEntries?: number;
  /**
   * Objects examined by one `scanByVersion` call at most; the page may then hold fewer than
   * `limit` items and still carry a cursor, which keeps one call inside a Lambda's time. @default 2000
   */
  readonly maxExaminedPerScan?: number;
  /**
   * `rewrapObject` copies the payload inside S3 (multipart with UploadPartCopy) from this
   * resulting object size on; below it, it reads and rewrites the object. At least 5 MiB + 1.
   * @default 16 MiB
   */
  readonly multipartThresholdBytes?: number;
  /** Size of each UploadPartCopy range (5 MiB to 5 GiB; grown when 10,000 parts would not do). @default 512 MiB */
  readonly copyPartBytes?: number;
  /**
   * Whether `purgeExposedCopies` may delete noncurrent object versions (DeleteObject with a
   * VersionId; the role needs s3:ListBucketVersions, s3:GetObjectVersion and
   * s3:DeleteObjectVersion). When false it only reports them, as `not-configured`.
   * @default true
   */
  readonly deleteExposedCopies?: boolean;
  /**
   * Bytes of the one ranged GET with which `getHeader` reads a header. The default covers the
   * longest header the envelope format allows (ENVELOPE_LIMITS.headerMaxLength, with an 8 KiB
   * stored context), so one request always does; a smaller value saves bytes on every read
   * and costs a second ranged GET for a header longer than it. @default ENVELOPE_LIMITS.headerMaxLength
   */
  readonly headerReadBytes?: number;
  /** Conditional writes in flight at once in `putHeaders` and `putBatch`. @default 8 */
  readonly writeConcurrency?: number;
  /**
   * Budget, in object bytes, of the memo of whole objects that a header read returned entirely
   * (records up to `headerReadBytes`), so that their re-wrap needs no second read. It holds
   * stored envelopes (ciphertext) only, never more than this many bytes (oldest dropped first),
   * and is not used with a `replica` (a replica's SSE settings are not the primary's). 0 turns
   * it off. @default 4 MiB
   */
  readonly wholeObjectMemoBytes?: number;
  /**
   * A read replica of the record objects, e.g. the S3 Replication destination bucket in the
   * reader's Region: reads go there, writes never (see the class notes).
   *
   * ETags: S3 documents the ETag of a plaintext or SSE-S3 object written by PutObject/CopyObject
   * as the MD5 digest of its data, and that of an SSE-KMS / SSE-C or multipart object as not an
   * MD5 digest (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html); a replica of an
   * SSE-KMS object is encrypted again under the destination's KMS key
   * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html),
   * so nothing promises that its ETag is the source's. This store never relies on it: a write
   * based on a replica read is conditional on the replica's ETag at the primary, and conflicts
   * when the two differ (the caller has the plaintext already; a lazy re-wrap is best-effort).
   *
   * Counts and scans then lag with the replica, and `purgeExposedCopies` works on the primary
   * bucket only: the replica's own noncurrent versions (S3 Replication does not replicate a
   * delete that names a version ID, "How delete operations affect replication",
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-what-is-isnot-replicated.html#replication-delete-op)
   * are outside this store and need a lifecycle rule of their own.
   */
  readonly replica?: S3ReplicaOptions;
  /**
   * How new objects are written. `'body'`: the object is the envelope, readable by anything that
   * reads the object. `'metadata'`: the header goes into the object metadata and the body is the
   * rest of the envelope, so that a header re-wrap is a HEAD and a metadata-only CopyObject of
   * the object onto itself: no body byte moves, at any record size (in the body layout a record
   * under S3's 5 MiB part floor is read and written whole). A header longer than 1,200 bytes
   * (a large stored context) keeps the body layout for that object.
   *
   * Every object says which layout it has (the metadata key), so readers of either layout read
   * both: `get` reassembles the envelope, a metadata-layout object is always re-wrapped in place,
   * and a `'metadata'` store moves a body-layout object to the metadata layout at its first
   * re-wrap (one read and write of that object; the cheap path from then on). Readers other
   * than rekey must then read the header from the metadata (the `rekey` package does).
   *
   * The cost (see s3-metadata-layout.ts): a metadata-only copy may keep the ETag (S3's ETag of
   * a plaintext or SSE-S3 object is the MD5 of its data), so two header re-wraps of the same
   * data key can both land; every write that changes the data still conflicts as it should.
   * The re-wrap needs s3:GetObject and s3:PutObject on the object, as the body layout's does.
   * @default 'body'
   */
  readonly layout?: S3RecordLayout;
  /**
   * HEADs of metadata-layout objects that `getHeader` keeps for the re-wrap that follows (about
   * 2 KB each, used within 30 seconds at the same ETag); 0 turns it off, for a caller that reads
   * headers and never re-wraps. @default 4096
   */
  readonly headMemoEntries?: number;
}

/** Where {@link S3RecordStore} reads when it has a replica. */
export interface S3ReplicaOptions {
  /** Client for the replica's Region. @default the store's client */
  readonly client?: S3Client;
  readonly bucket: string;
  /** Key prefix of the replicated record objects. @default the store's prefix (replication keeps keys) */
  readonly prefix?: string;
}

/** The first bytes of a record, read with a ranged GET. */
export interface RecordHead {
  readonly id: string;
  readonly keyring: string;
  readonly version: number;
  /** Up to the requested number of bytes from the start of the envelope. */
  readonly bytes: Buffer;
  /** Size of the whole stored envelope. */
  readonly size: number;
  readonly revision: string;
}

/** Input of {@link S3RecordStore.rewrapObject}. */
export interface RewrapObjectInput {
  readonly id: string;
  /** The re-wrapped header that replaces the first `oldHeaderLength` bytes. */
  readonly newHeader: Buffer;
  readonly oldHeaderLength: number;
  /** The key version the new header names (written to the object metadata). */
  readonly version: number;
  /** The revision the header was read at; the rewrite fails with ConflictError otherwise. */
  readonly expectedRevision: string;
}

interface ScanCursor {
  /** Last key examined: the next listing starts after it (ListObjectsV2 StartAfter). */
  readonly a: string;
}

/**
 * {@link RecordStore} over S3 objects, with a payload-preserving header rewrite.
 *
 * @example
 * const records = new S3RecordStore({ bucket: 'app-data', prefix: 'orders/' });
 * const rev = await records.put({ id: 'o-1', keyring: 'orders', version: 3, envelope }, null);
 * const page = await records.scanByVersion('orders', 2, { limit: 100 });
 */
export class S3RecordStore implements CopyKeepingRecordStore, BatchRecordStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly headConcurrency: number;
  private readonly memoLimit: number;
  /** Key → what its last HEAD found, valid while the listing shows the same ETag and second. */
  private readonly memo = new Map<string, MemoEntry>();
  private readonly maxExamined: number;
  private readonly multipartThreshold: number;
  private readonly copyPartBytes: number;
  private readonly deleteCopies: boolean;
  private readonly headerReadBytes: number;
  private readonly writeConcurrency: number;
  /** Where reads go: the replica when there is one, else the primary bucket. */
  private readonly reader: { readonly client: S3Client; readonly bucket: string; readonly prefix: string };
  /** Whole objects read by header reads on the primary; undefined with a replica or when turned off. */
  private readonly objects: WholeObjectMemo | undefined;
  private readonly layout: S3RecordLayout;
  /** HEADs of metadata-layout objects by `getHeader` on the primary, for the re-wrap that follows; undefined with a replica. */
  private readonly heads: HeadMemo | undefined;

  public constructor(options: S3RecordStoreOptions) {
    if (typeof options.bucket !== 'string' || options.bucket.length === 0) throw new ValidationError('bucket is required');
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? 'records/';
    this.client = options.client ?? newSdkClient(S3Client, { ...options.clientConfig }, FUNCTION_SDK_TIMEOUTS);
    this.headConcurrency = positiveInt(options.headConcurrency ?? 16, 'headConcurrency', 1, 256);
    this.memoLimit = options.listingMemoEntries === 0 ? 0 : positiveInt(options.listingMemoEntries ?? 100_000, 'listingMemoEntries', 1, 10_000_000);
    this.maxExamined = positiveInt(options.maxExaminedPerScan ?? 2000, 'maxExaminedPerScan', 1, 1_000_000);
    this.multipartThreshold = positiveInt(options.multipartThresholdBytes ?? 16 * 1024 * 1024, 'multipartThresholdBytes', MIN_PART_BYTES + 1, Number.MAX_SAFE_INTEGER);
    this.copyPartBytes = positiveInt(options.copyPartBytes ?? 512 * 1024 * 1024, 'copyPartBytes', MIN_PART_BYTES, MAX_PART_BYTES);
    this.deleteCopies = options.deleteExposedCopies ?? true;
    this.headerReadBytes = positiveInt(options.headerReadBytes ?? HEAD_PROBE_LENGTH, 'headerReadBytes', 1, MAX_HEADER_BYTES);
    this.writeConcurrency = positiveInt(options.writeConcurrency ?? 8, 'writeConcurrency', 1, 256);
    const replica = options.replica;
    if (replica !== undefined && (typeof replica.bucket !== 'string' || replica.bucket.length === 0)) throw new ValidationError('replica.bucket is required');
    this.reader = replica === undefined
      ? { client: this.client, bucket: this.bucket, prefix: this.prefix }
      : { client: replica.client ?? this.client, bucket: replica.bucket, prefix: replica.prefix ?? this.prefix };
    const memoBytes = options.wholeObjectMemoBytes === 0 ? 0 : positiveInt(options.wholeObjectMemoBytes ?? 4 * 1024 * 1024, 'wholeObjectMemoBytes', 1, 1024 * 1024 * 1024);
    this.objects = replica === undefined && memoBytes > 0 ? new WholeObjectMemo(memoBytes) : undefined;
    if (options.layout !== undefined && options.layout !== 'body' && options.layout !== 'metadata') throw new ValidationError("layout must be 'body' or 'metadata'");
    this.layout = options.layout ?? 'body';
    // About 2 KB each at most (the metadata); a replica's answers carry the replica's SSE settings, not the primary's.
    const heads = options.headMemoEntries === 0 ? 0 : positiveInt(options.headMemoEntries ?? 4096, 'headMemoEntries', 1, 1_000_000);
    this.heads = replica === undefined && this.layout === 'metadata' && heads > 0 ? new HeadMemo(heads) : undefined;
  }

  /** Object bytes the whole-object memo holds now (never more than `wholeObjectMemoBytes`). */
  public get memoizedObjectBytes(): number {
    return this.objects?.bytes ?? 0;
  }

  /** Reads a record (envelope and indexed keyring/version), or undefined. */
  public async get(id: string): Promise<StoredRecord | undefined> {
    const key = this.readKeyFor(id);
    try {
      const out = await this.reader.client.send(new GetObjectCommand({ Bucket: this.reader.bucket, Key: key }));
      const { keyring, version } = indexOf(out.Metadata, id);
      // Either layout: a metadata-layout object's envelope is its header (metadata) and its body.
      const envelope = envelopeFromS3Object({ body: (await out.Body?.transformToByteArray()) ?? new Uint8Array(), metadata: out.Metadata }, id);
      // The header is the truth about the origin; the metadata only indexes it.
      return { id, keyring, version, originVersion: originOfEnvelope(envelope), envelope, revision: requireEtag(out.ETag) };
    } catch (err) {
      if (isAwsNotFound(err)) return undefined;
      throw mapAwsError(err, { resource: `record '${id}'` });
    }
  }

  /** Writes a record; conditional on `expectedRevision` (`null`: only if absent). */
  public async put(
    record: { id: string; keyring: string; version: number; envelope: Buffer },
    expectedRevision?: string | null,
  ): Promise<string> {
    const key = this.keyFor(record.id);
    checkIndex(record.keyring, record.version);
    if (!Buffer.isBuffer(record.envelope) || record.envelope.length === 0) throw new ValidationError('envelope must be a non-empty Buffer');
    // The index must name what the header carries (the one rule of every store).
    headerIndex(record.envelope, record);
    const condition = conditionFor(expectedRevision);
    const index = recordIndexMetadata(record.keyring, record.version, record.envelope);
    const split = this.layout === 'metadata' ? splitEnvelope(record.envelope, index) : undefined;
    try {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: split === undefined ? record.envelope : split.body,
          ContentType: 'application/octet-stream',
          Metadata: split === undefined ? index : split.metadata,
          ...condition,
        }),
      );
      return requireEtag(out.ETag);
    } catch (err) {
      throw conditionalError(err, expectedRevision, `record '${record.id}'`);
    } finally {
      // Whatever the outcome, an entry read before this write is of no more use.
      this.objects?.forget(record.id);
      this.heads?.forget(record.id);
    }
  }

  /** Deletes a record; with `expectedRevision`, only if it is still that revision. */
  public async delete(id: string, expectedRevision?: string): Promise<void> {
    const key = this.keyFor(id);
    if (expectedRevision !== undefined && (typeof expectedRevision !== 'string' || expectedRevision.length === 0)) {
      throw new ValidationError('expectedRevision must be a non-empty string');
    }
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, IfMatch: expectedRevision }));
    } catch (err) {
      throw conditionalError(err, expectedRevision, `record '${id}'`);
    } finally {
      this.objects?.forget(id);
      this.heads?.forget(id);
    }
  }

  /**
   * Lists records of one keyring version in key order. Examines at most `maxExaminedPerScan`
   * objects per call; the cursor is the last examined key, so objects added or rewritten
   * between calls never shift the position (unlike a page token plus an offset).
   */
  public async scanByVersion(keyring: string, version: number, options: { cursor?: string; limit: number }): Promise<RecordPage> {
    checkIndex(keyring, version);
    return this.scan((ref) => ref.keyring === keyring && ref.version === version, options);
  }

  /**
   * Lists the records of a keyring whose origin version is at most `atMost` (whatever their
   * current version), in key order, with the paging of {@link scanByVersion}.
   */
  public async scanByOrigin(keyring: string, atMost: number, options: { cursor?: string; limit: number }): Promise<RecordPage> {
    checkIndex(keyring, atMost);
    return this.scan((ref) => ref.keyring === keyring && ref.originVersion <= atMost, options);
  }

  /** Records per origin version of a keyring: lists and HEADs the whole prefix (see the scale note). */
  public async countByOrigin(keyring: string): Promise<Map<number, number>> {
    checkIndex(keyring, 1);
    return this.tally(keyring, (ref) => ref.originVersion);
  }

  /**
   * Deletes the noncurrent versions of this prefix's objects whose data key was created at or
   * before `version`, where the current object has been re-encrypted past it; reports the rest.
   * On an unversioned bucket there are none.
   */
  public async purgeExposedCopies(keyring: string, version: number): Promise<CopyPurgeReport> {
    checkIndex(keyring, version);
    return purgeExposedCopies({ client: this.client, bucket: this.bucket, prefix: this.prefix, mayDelete: this.deleteCopies }, keyring, version);
  }

  private async scan(match: (ref: RecordRef) => boolean, options: { cursor?: string; limit: number }): Promise<RecordPage> {
    const limit = positiveInt(options.limit, 'limit', 1, 10_000);
    let after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
    const items: RecordRef[] = [];
    let examined = 0;
    for (;;) {
      const page = await this.listPage(after, Math.min(1000, this.maxExamined - examined));
      const refs = await this.headAll(page.objects);
      for (let i = 0; i < page.objects.length; i++) {
        const key = (page.objects[i] as ListedObject).key;
        after = key;
        examined++;
        const ref = refs[i];
        if (ref !== undefined && match(ref)) items.push(ref);
        if (items.length === limit) {
          const more = i < page.objects.length - 1 || page.truncated;
          return more ? { items, cursor: encodeCursor({ a: key }) } : { items };
        }
      }
      if (!page.truncated) return { items };
      after = page.last;
      if (examined >= this.maxExamined) return { items, cursor: encodeCursor({ a: after as string }) };
    }
  }

  /** Records per version of a keyring: lists and HEADs the whole prefix (see the scale note). */
  public async countByVersion(keyring: string): Promise<Map<number, number>> {
    checkIndex(keyring, 1);
    return this.tally(keyring, (ref) => ref.version);
  }

  private async tally(keyring: string, key: (ref: RecordRef) => number): Promise<Map<number, number>> {
    const counts = new Map<number, number>();
    let after: string | undefined;
    for (;;) {
      const page = await this.listPage(after, 1000);
      for (const ref of await this.headAll(page.objects)) {
        if (ref !== undefined && ref.keyring === keyring) counts.set(key(ref), (counts.get(key(ref)) ?? 0) + 1);
      }
      if (!page.truncated) return counts;
      after = page.last;
    }
  }

  /**
   * Reads the first `length` bytes of a record (a ranged GET), enough to parse and re-wrap its
   * header without downloading the payload.
   */
  public async readHeader(id: string, length: number): Promise<RecordHead | undefined> {
    return (await this.readHead(id, length))?.head;
  }

  /** {@link readHeader}, with the facts of the object's answer (size, metadata, SSE settings). */
  private async readHead(id: string, length: number): Promise<{ head: RecordHead; facts: ObjectFacts } | undefined> {
    const key = this.readKeyFor(id);
    const n = positiveInt(length, 'length', 1, MAX_HEADER_BYTES);
    try {
      const out = await this.reader.client.send(new GetObjectCommand({ Bucket: this.reader.bucket, Key: key, Range: `bytes=0-${n - 1}` }));
      const read = Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
      const { keyring, version } = indexOf(out.Metadata, id);
      const facts = factsOf(out);
      const header = headerFromMetadata(out.Metadata, id);
      // A metadata-layout object: the envelope starts with the header its metadata holds.
      if (header !== undefined) {
        return { head: { id, keyring, version, bytes: Buffer.concat([header, read]).subarray(0, n), size: header.length + facts.size, revision: facts.etag }, facts };
      }
      // A small object came back whole: its re-wrap at this ETag then needs no read.
      if (read.length === facts.size) this.objects?.remember(id, { bytes: read, facts });
      return { head: { id, keyring, version, bytes: read, size: facts.size, revision: facts.etag }, facts };
    } catch (err) {
      if (isAwsNotFound(err)) return undefined;
      // Range beyond a zero-byte object: nothing rekey wrote.
      if ((err as { name?: string }).name === 'InvalidRange') throw new BackendError(`record '${id}' is empty`, { retryable: false });
      throw mapAwsError(err, { resource: `record '${id}'` });
    }
  }

  /**
   * Replaces a record's header and keeps its payload bytes, conditional on `expectedRevision`.
   * Returns the new revision.
   *
   * Below `multipartThresholdBytes` the object is read and rewritten with `If-Match` (the payload
   * passes through this process, but it is small): no read at all when the last header read
   * returned the whole object at `expectedRevision` (the whole-object memo), else one ranged GET
   * from byte 0 with `If-Match` (two for an object longer than 5 MiB), which also carries the
   * metadata, content type and SSE settings the rewrite keeps. From the threshold on, S3 builds the new object
   * itself: a multipart upload whose part 1 is the new header plus the first (5 MiB - header)
   * bytes of the payload (S3 refuses parts under 5 MiB but the last, so exactly those bytes pass
   * through this process), and whose other parts are UploadPartCopy ranges of the old object,
   * guarded by `x-amz-copy-source-if-match` on the revision that was checked (not pinned to a
   * VersionId, which would need s3:GetObjectVersion; the ETag condition already refuses any
   * other content).
   * CompleteMultipartUpload carries `If-Match`, so a writer that changed the record meanwhile
   * makes the rewrite fail with ConflictError and the upload is aborted; nothing half-written is
   * ever visible. A crash between the two leaves only an incomplete upload: the bucket should
   * carry an AbortIncompleteMultipartUpload lifecycle rule. The multipart ETag has another form
   * (`"…-N"`), which callers treat as opaque anyway.
   */
  public async rewrapObject(input: RewrapObjectInput): Promise<string> {
    const key = this.keyFor(input.id);
    if (!versionNumber.safeParse(input.version).success) throw new ValidationError('version must be a positive integer');
    if (!Buffer.isBuffer(input.newHeader) || input.newHeader.length === 0 || input.newHeader.length > MAX_HEADER_BYTES) {
      throw new ValidationError(`newHeader must be a Buffer of 1 to ${MAX_HEADER_BYTES} bytes`);
    }
    if (typeof input.expectedRevision !== 'string' || input.expectedRevision.length === 0) {
      throw new ValidationError('expectedRevision is required');
    }
    return this.rewrap(key, input.id, input);
  }

  /**
   * The rewrite behind `rewrapObject` and `putHeaders`. A `'metadata'` store first learns the
   * object's layout from a HEAD (none when `getHeader` just made it, see `heads`); a `'body'`
   * store learns it from the ranged GET its rewrite starts with.
   */
  private async rewrap(key: string, id: string, input: Parameters<typeof rewrapS3Object>[1]): Promise<string> {
    const target = { client: this.client, bucket: this.bucket, key, id, multipartThreshold: this.multipartThreshold, copyPartBytes: this.copyPartBytes };
    const known = this.objects?.take(id, input.expectedRevision);
    let options: RewrapOptions = { known };
    if (this.layout === 'metadata') {
      const head = this.heads?.take(id, input.expectedRevision) ?? (await headAt(target, input.expectedRevision, (m) => headerFromMetadata(m, id)));
      options = { known, head, toMetadata: true };
    }
    return rewrapS3Object(target, input, options);
  }

  /**
   * Reads a record's header and revision without its body: one ranged GET of the first
   * `headerReadBytes` bytes (by default enough for the longest header the format allows), and
   * a second ranged GET, pinned to the same ETag, only when the header says it is longer than
   * that. The keyring and version come from the object metadata and must be the ones the
   * parsed header carries: the header is authenticated, the metadata only indexes it, so a
   * mismatch is a BackendError (not retryable) rather than a silently wrong index. An object
   * whose bytes are no rekey header is a BackendError too (its body must be read to say more).
   *
   * @example
   * const head = await records.getHeader('o-1'); // { header, version, originVersion, revision, ... }
   */
  public async getHeader(id: string): Promise<StoredHeader | undefined> {
    if (this.layout === 'metadata') {
      const found = await this.headHeader(id);
      if (found !== 'body') return found;
    }
    // A writer replacing the object between the two reads: read again from the start, a few times.
    for (let attempt = 1; ; attempt++) {
      const read = await this.readHead(id, this.headerReadBytes);
      if (read === undefined) return undefined;
      const head = read.head;
      // A 'metadata' store's re-wrap then needs no HEAD to learn this body-layout object's facts.
      if (headerFromMetadata(read.facts.metadata, id) === undefined) this.heads?.remember(id, { facts: read.facts, header: undefined });
      let bytes = head.bytes;
      let length = headerLengthOf(bytes, id);
      if (length === undefined || length > bytes.length) {
        const want = Math.min(head.size, length ?? HEAD_PROBE_LENGTH);
        const rest = want > bytes.length ? await this.readRest(id, bytes.length, want - 1, head.revision) : Buffer.alloc(0);
        if (rest === undefined) {
          if (attempt < 3) continue;
          throw new ConflictError(`record '${id}' kept changing while its header was read`);
        }
        bytes = Buffer.concat([bytes, rest]);
        length = headerLengthOf(bytes, id);
      }
      if (length === undefined || length > bytes.length) throw notAnEnvelope(id);
      const header = Buffer.from(bytes.subarray(0, length));
      let parsed;
      try {
        parsed = parseHeader(header);
      } catch {
        throw notAnEnvelope(id);
      }
      if (parsed.keyring !== head.keyring || parsed.version !== head.version) {
        throw new BackendError(`record '${id}' metadata does not match its envelope header`, { retryable: false });
      }
      return { id, keyring: head.keyring, version: head.version, originVersion: parsed.originVersion, header, revision: head.revision };
    }
  }

  /**
   * Replaces the header of each record and keeps its payload, each write conditional on its
   * own revision, at most `writeConcurrency` at a time; a write that lost to another writer
   * (or whose record is gone) is `{ ok: false, reason: 'conflict' }`, any other failure
   * rejects the call (which then says nothing about which writes happened). Every write is
   * validated before any is sent: the header must be a rekey header naming the write's keyring
   * and version.
   *
   * Each write is {@link rewrapObject} with the old header checked: its length is the new
   * header's (a re-wrap changes only the fixed-size key slot, so a header keeps its length;
   * the authenticated part before it is compared byte for byte in the same read). Nothing is
   * decrypted. Below `multipartThresholdBytes` the body still passes through this process once
   * (a PUT, and a ranged GET unless the header read returned the whole object), because S3
   * refuses parts under 5 MiB but the last; from the threshold on only the first 5 MiB do, and
   * S3 copies the rest itself.
   *
   * @example
   * const [outcome] = await records.putHeaders([{ write: { id, keyring, version: 4, header }, expectedRevision: head.revision }]);
   */
  public async putHeaders(writes: readonly ConditionalWrite<{ id: string; keyring: string; version: number; header: Buffer }>[]): Promise<BatchWriteOutcome[]> {
    for (const { write } of writes) {
      this.keyFor(write.id);
      checkIndex(write.keyring, write.version);
      if (!Buffer.isBuffer(write.header) || write.header.length === 0 || write.header.length > MAX_HEADER_BYTES) {
        throw new ValidationError(`header must be a Buffer of 1 to ${MAX_HEADER_BYTES} bytes`);
      }
      const index = headerIndex(write.header, write);
      if (!index.parsed || index.headerLength !== write.header.length) throw new ValidationError('header must be exactly one rekey envelope header');
    }
    return runBounded(writes, this.writeConcurrency, async ({ write, expectedRevision }) => {
      // A header replaces the header of an existing record only: "only if absent" never matches.
      if (expectedRevision === null) return CONFLICT;
      try {
        const revision = await this.rewrap(this.keyFor(write.id), write.id, {
          newHeader: write.header,
          oldHeaderLength: write.header.length,
          version: write.version,
          expectedRevision,
          checkOldHeader: true,
        });
        return { ok: true, revision } as const;
      } catch (err) {
        if (err instanceof ConflictError) return CONFLICT;
        throw err;
      }
    });
  }

  /**
   * Writes whole envelopes, each a conditional PUT on its own revision (`null`: only if
   * absent), at most `writeConcurrency` at a time; outcomes as in {@link putHeaders}. Every
   * write is validated before any is sent.
   *
   * @example
   * await records.putBatch([{ write: { id: 'o-1', keyring: 'orders', version: 3, envelope }, expectedRevision: null }]);
   */
  public async putBatch(writes: readonly ConditionalWrite<{ id: string; keyring: string; version: number; envelope: Buffer }>[]): Promise<BatchWriteOutcome[]> {
    for (const { write, expectedRevision } of writes) {
      this.keyFor(write.id);
      checkIndex(write.keyring, write.version);
      if (!Buffer.isBuffer(write.envelope) || write.envelope.length === 0) throw new ValidationError('envelope must be a non-empty Buffer');
      headerIndex(write.envelope, write);
      conditionFor(expectedRevision);
    }
    return runBounded(writes, this.writeConcurrency, async ({ write, expectedRevision }) => {
      try {
        return { ok: true, revision: await this.put(write, expectedRevision) } as const;
      } catch (err) {
        if (err instanceof ConflictError) return CONFLICT;
        throw err;
      }
    });
  }

  /**
   * The header of a metadata-layout object from one HeadObject (no body byte read); `'body'`
   * when the object keeps its header in the body (the ranged read then follows).
   */
  private async headHeader(id: string): Promise<StoredHeader | undefined | 'body'> {
    let out;
    try {
      out = await this.reader.client.send(new HeadObjectCommand({ Bucket: this.reader.bucket, Key: this.readKeyFor(id) }));
    } catch (err) {
      if (isAwsNotFound(err)) return undefined;
      throw mapAwsError(err, { resource: `record '${id}'` });
    }
    const { keyring, version } = indexOf(out.Metadata, id);
    const header = headerFromMetadata(out.Metadata, id);
    if (header === undefined) return 'body';
    const facts = factsOf(out);
    // headerFromMetadata parsed it: the metadata index must name what the header carries.
    const parsed = parseHeader(header);
    if (parsed.keyring !== keyring || parsed.version !== version) {
      throw new BackendError(`record '${id}' metadata does not match its envelope header`, { retryable: false });
    }
    this.heads?.remember(id, { facts, header });
    return { id, keyring, version, originVersion: parsed.originVersion, header, revision: facts.etag };
  }

  /** Bytes `start`..`end` of the object at revision `revision`; undefined when it changed (or vanished) meanwhile. */
  private async readRest(id: string, start: number, end: number, revision: string): Promise<Buffer | undefined> {
    try {
      const out = await this.reader.client.send(
        new GetObjectCommand({ Bucket: this.reader.bucket, Key: this.readKeyFor(id), Range: `bytes=${start}-${end}`, IfMatch: revision }),
      );
      return Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
    } catch (err) {
      const mapped = conditionalError(err, revision, `record '${id}'`);
      if (mapped instanceof ConflictError) return undefined;
      throw mapped;
    }
  }

  private async listPage(after: string | undefined, maxKeys: number): Promise<{ objects: ListedObject[]; last: string | undefined; truncated: boolean }> {
    try {
      const out = await this.reader.client.send(
        new ListObjectsV2Command({ Bucket: this.reader.bucket, Prefix: this.reader.prefix, StartAfter: after, MaxKeys: Math.max(1, maxKeys) }),
      );
      const all = (out.Contents ?? []).filter((o): o is typeof o & { Key: string } => o.Key !== undefined);
      // The prefix's own "folder" object is listed but is no record.
      const objects = all.filter((o) => o.Key.length > this.reader.prefix.length).map((o) => ({ key: o.Key, etag: o.ETag, second: secondOf(o.LastModified) }));
      return { objects, last: all[all.length - 1]?.Key, truncated: out.IsTruncated === true && all.length > 0 };
    } catch (err) {
      throw mapAwsError(err, { resource: `s3://${this.reader.bucket}/${this.reader.prefix}` });
    }
  }

  /**
   * The records behind listed objects, HEADing (with bounded parallelism) only those the memo
   * has not seen with the same ETag and LastModified; undefined for objects gone meanwhile or
   * not rekey records.
   */
  private async headAll(objects: readonly ListedObject[]): Promise<(RecordRef | undefined)[]> {
    const out: (RecordRef | undefined)[] = new Array(objects.length);
    const misses: number[] = [];
    objects.forEach((o, i) => {
      const hit = this.memo.get(o.key);
      if (hit !== undefined && o.etag !== undefined && o.second !== undefined && hit.etag === o.etag && hit.second === o.second) out[i] = hit.ref;
      else misses.push(i);
    });
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < misses.length) {
        const i = misses[next++] as number;
        out[i] = await this.headRef((objects[i] as ListedObject).key);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.headConcurrency, misses.length) }, worker));
    return out;
  }

  private async headRef(key: string): Promise<RecordRef | undefined> {
    const id = key.slice(this.reader.prefix.length);
    try {
      const out = await this.reader.client.send(new HeadObjectCommand({ Bucket: this.reader.bucket, Key: key }));
      const keyring = out.Metadata?.[KEYRING_METADATA];
      const version = Number(out.Metadata?.[VERSION_METADATA]);
      const ref = keyring === undefined || !versionNumber.safeParse(version).success || out.ETag === undefined
        ? undefined
        : { id, keyring, version, originVersion: originFromMetadata(out.Metadata), revision: out.ETag };
      const second = secondOf(out.LastModified);
      // A metadata-layout re-wrap may keep the ETag (a metadata-only copy keeps the data), so
      // only the LastModified second tells it from the state this HEAD saw: trust that only once
      // the second has passed (with a margin for clock skew), else HEAD the object again next time.
      // A multipart completion's LastModified is when its upload began, not when it landed: no
      // metadata-layout object a multipart rewrite could have made (5 MiB and more, whatever
      // threshold its writer used) is memoized.
      const settled =
        out.Metadata?.[HEADER_METADATA] === undefined ||
        (second !== undefined && Math.floor(Date.now() / 1000) - SETTLED_SECONDS > second && (out.ContentLength ?? Infinity) < MIN_PART_BYTES);
      if (settled) this.remember(key, out.ETag, second, ref);
      else this.memo.delete(key);
      return ref;
    } catch (err) {
      if (isAwsNotFound(err)) {
        this.memo.delete(key);
        return undefined;
      }
      throw mapAwsError(err, { resource: `record '${id}'` });
    }
  }

  /** Keeps a HEAD's answer for the next listing; the oldest entry goes first when full. */
  private remember(key: string, etag: string | undefined, second: number | undefined, ref: RecordRef | undefined): void {
    if (this.memoLimit === 0 || etag === undefined || second === undefined) return;
    this.memo.delete(key);
    this.memo.set(key, { etag, second, ref });
    if (this.memo.size > this.memoLimit) this.memo.delete(this.memo.keys().next().value as string);
  }

  private keyFor(id: string): string {
    if (typeof id !== 'string' || id.length === 0 || id.length > 900 || id.startsWith('/')) {
      throw new ValidationError('record id must be 1 to 900 characters and not start with "/"');
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(id)) throw new ValidationError('record id must not contain control characters');
    return `${this.prefix}${id}`;
  }

  /** The key of record `id` where reads go (the replica's when there is one). */
  private readKeyFor(id: string): string {
    this.keyFor(id);
    return `${this.reader.prefix}${id}`;
  }
}

const CONFLICT = { ok: false, reason: 'conflict' } as const;

/** Seconds after its LastModified from which a metadata-layout object's HEAD may be memoized (see headRef). */
const SETTLED_SECONDS = 2;

/** The header length the first bytes announce, undefined when more bytes are needed; BackendError for bytes no header starts with. */
function headerLengthOf(bytes: Buffer, id: string): number | undefined {
  try {
    return probeHeaderLength(bytes);
  } catch {
    throw notAnEnvelope(id);
  }
}

function notAnEnvelope(id: string): NotARecordError {
  return new NotARecordError(`record '${id}' is not a rekey envelope`);
}

function checkIndex(keyring: string, version: number): void {
  assertKeyringName(keyring);
  if (!versionNumber.safeParse(version).success) throw new ValidationError('version must be a positive integer');
}

function conditionFor(expected: string | null | undefined): { IfNoneMatch?: string; IfMatch?: string } {
  if (expected === undefined) return {};
  if (expected === null) return { IfNoneMatch: '*' };
  if (typeof expected !== 'string' || expected.length === 0) throw new ValidationError('expectedRevision must be a non-empty string, null or absent');
  return { IfMatch: expected };
}

function encodeCursor(c: ScanCursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(cursor: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<ScanCursor>;
    if (typeof parsed.a === 'string' && parsed.a.length > 0) return parsed.a;
  } catch {
    // fall through to the one error below
  }
  throw new ValidationError('invalid scan cursor');
}

/** One object of a listing page. */
interface ListedObject {
  readonly key: string;
  readonly etag: string | undefined;
  /** LastModified in whole seconds: a listing carries milliseconds, a HEAD's HTTP date does not. */
  readonly second: number | undefined;
}

/** What a HEAD found for an object, valid while its ETag and LastModified stay the same. */
interface MemoEntry {
  readonly etag: string;
  readonly second: number;
  readonly ref: RecordRef | undefined;
}

function secondOf(date: Date | undefined): number | undefined {
  return date === undefined || Number.isNaN(date.getTime()) ? undefined : Math.floor(date.getTime() / 1000);
}
