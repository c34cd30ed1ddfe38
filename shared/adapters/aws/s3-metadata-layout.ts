/**
 * The metadata layout of a record object on S3: the envelope header lives in the object's
 * metadata (`x-amz-meta-rekey-header`, base64) and the body is the rest of the envelope. S3 has
 * no partial write below its 5 MiB part floor, so in the body layout a header re-wrap of a 64 KiB
 * record moves the whole record twice; in the metadata layout it is a HEAD and a metadata-only
 * CopyObject of the object onto itself, which moves no body byte through the caller at any size.
 *
 * Rewrites here are all conditional on the revision that was read: CopyObject with
 * `x-amz-copy-source-if-match` (the source, which is the same object) and `If-Match` (the
 * destination), and a multipart copy completed with `If-Match`.
 *
 * What the layout costs in safety, and why it is opt-in: S3 documents the ETag of a plaintext or
 * SSE-S3 object as the MD5 of its data (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html),
 * and a metadata-only copy keeps the data, so a header re-wrap may leave the revision unchanged.
 * Every write that changes the data (an application write, a re-encryption) still changes it
 * and still loses or wins against the others; only two header re-wraps of the same data key can
 * both land (the later wins; both are valid wraps of the same key). Revocation does not rely on
 * that ordering: it closes only when the counts (which read this metadata) show no record left on
 * the revoked version.
 */
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  AbortMultipartUploadCommand,
  HeadObjectCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { BackendError, ValidationError } from '../../errors';
import { KEY_SLOT_LENGTH } from '../../envelope/format';
import {
  conditionalError,
  copySourceOf,
  factsOf,
  indexOf,
  keptSettings,
  MAX_COPY_OBJECT_BYTES,
  MAX_PARTS,
  metadataHolding,
  MIN_PART_BYTES,
  recordIndexMetadata,
  requireEtag,
  type ObjectFacts,
} from './s3-record-object';

/** The record object to rewrite (the store's settings). */
export interface LayoutTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** Record id, for messages. */
  readonly id: string;
  /** Size of each UploadPartCopy range (grown when 10,000 parts would not do). */
  readonly copyPartBytes: number;
}

/** What a conditional HeadObject says about a record object: its facts, and the header its metadata holds (metadata layout). */
export interface HeadFacts {
  readonly facts: ObjectFacts;
  /** The stored header of a metadata-layout object; undefined for a body-layout object. */
  readonly header: Buffer | undefined;
}

/**
 * The facts of the object at `expectedRevision` (HeadObject with `If-Match`); a ConflictError
 * when it changed or vanished.
 *
 * @example
 * const { facts, header } = await headAt(target, revision, decodeHeader);
 */
export async function headAt(target: LayoutTarget, expectedRevision: string, decodeHeader: (metadata: Record<string, string> | undefined) => Buffer | undefined): Promise<HeadFacts> {
  try {
    const out = await target.client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: target.key, IfMatch: expectedRevision }));
    const facts = factsOf(out);
    return { facts, header: decodeHeader(facts.metadata) };
  } catch (err) {
    throw conditionalError(err, expectedRevision, `record '${target.id}'`);
  }
}

/**
 * The metadata of a metadata-layout object holding `header` under `version`, keeping every other
 * key of `metadata`; undefined when the object cannot be in the metadata layout (see
 * `metadataHolding`: a whole header of at most 1,200 bytes, 2 KB of user metadata in all).
 */
export function metadataWithHeader(metadata: Record<string, string> | undefined, id: string, header: Buffer, version: number, entering: boolean): Record<string, string> | undefined {
  const { keyring } = indexOf(metadata, id);
  return metadataHolding({ ...metadata, ...recordIndexMetadata(keyring, version, header) }, header, entering);
}

/**
 * Throws ValidationError unless `stored` is a header that `next` re-wraps: same length, same
 * authenticated bytes (all but the key slot), so the body still decrypts under the new header.
 */
export function assertRewraps(stored: Buffer, next: Buffer, what: string): void {
  const ah = stored.length - KEY_SLOT_LENGTH;
  if (next.length !== stored.length || ah <= 0 || !stored.subarray(0, ah).equals(next.subarray(0, ah))) {
    throw new ValidationError(`the new header of ${what} does not re-wrap its stored header`);
  }
}

/**
 * Rewrites a record object in place with new metadata and the same body bytes (from byte
 * `bodyOffset` of the current object on, so a body-layout object drops its header on the way),
 * conditional on `expectedRevision`; returns the new revision. Nothing passes through this
 * process: a CopyObject onto itself (`MetadataDirective: REPLACE`) when the whole object is kept
 * and fits CopyObject's 5 GB, else a multipart upload made of UploadPartCopy ranges alone,
 * completed with `If-Match` (aborted on any failure; a crash leaves an incomplete upload for the
 * bucket's AbortIncompleteMultipartUpload rule). Content type, SSE-KMS key and storage class are
 * carried. Object tags are kept by the CopyObject (its default TaggingDirective is COPY) and not
 * by the multipart path (as by any PutObject rewrite).
 *
 * @example
 * const revision = await copyWithMetadata(target, facts, 0, metadata, revision);
 */
export async function copyWithMetadata(target: LayoutTarget, facts: ObjectFacts, bodyOffset: number, metadata: Record<string, string>, expectedRevision: string): Promise<string> {
  const what = `record '${target.id}'`;
  const copySource = copySourceOf(target.bucket, target.key);
  const kept = { ContentType: facts.contentType, ...keptSettings(facts) };
  if (bodyOffset === 0 && facts.size <= MAX_COPY_OBJECT_BYTES) {
    try {
      const out = await target.client.send(
        new CopyObjectCommand({
          Bucket: target.bucket,
          Key: target.key,
          CopySource: copySource,
          CopySourceIfMatch: expectedRevision,
          IfMatch: expectedRevision,
          MetadataDirective: 'REPLACE',
          Metadata: metadata,
          ...kept,
        }),
      );
      return requireEtag(out.CopyObjectResult?.ETag);
    } catch (err) {
      throw conditionalError(err, expectedRevision, what);
    }
  }
  const length = facts.size - bodyOffset;
  if (length < 1) throw new BackendError(`${what} has no body after its header`, { retryable: false });
  let uploadId: string | undefined;
  try {
    const created = await target.client.send(new CreateMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, Metadata: metadata, ...kept }));
    uploadId = created.UploadId;
    if (uploadId === undefined) throw new BackendError('S3 CreateMultipartUpload returned no UploadId', { retryable: false });
    const parts = await copyParts(target, uploadId, { from: bodyOffset, to: facts.size, firstPart: 1, expectedRevision });
    const done = await target.client.send(
      new CompleteMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, UploadId: uploadId, IfMatch: expectedRevision, MultipartUpload: { Parts: parts } }),
    );
    return requireEtag(done.ETag);
  } catch (err) {
    if (uploadId !== undefined) {
      // Best effort: a failed abort leaves an incomplete upload for the lifecycle rule to reap.
      await target.client.send(new AbortMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, UploadId: uploadId })).catch(() => undefined);
    }
    throw conditionalError(err, expectedRevision, what);
  }
}

/** How long a {@link HeadMemo} entry may serve a re-wrap. */
export const HEAD_MEMO_MAX_AGE_MS = 30_000;

/**
 * Copies bytes `from`..`to` (exclusive) of the object onto upload `uploadId` as UploadPartCopy
 * ranges numbered from `firstPart`, each guarded by `x-amz-copy-source-if-match` on the revision
 * that was checked (not pinned to a VersionId, which would need s3:GetObjectVersion: the ETag
 * condition already refuses any other content). Every part but the last is at least 5 MiB and
 * `copyPartBytes`, grown so that the upload stays within 10,000 parts.
 *
 * @example
 * const parts = await copyParts(target, uploadId, { from: 0, to: size, firstPart: 1, expectedRevision });
 */
export async function copyParts(target: LayoutTarget, uploadId: string, range: { from: number; to: number; firstPart: number; expectedRevision: string }): Promise<CompletedPart[]> {
  const partBytes = Math.max(target.copyPartBytes, MIN_PART_BYTES, Math.ceil((range.to - range.from) / (MAX_PARTS - range.firstPart + 1)));
  const copySource = copySourceOf(target.bucket, target.key);
  const parts: CompletedPart[] = [];
  for (let start = range.from, n = range.firstPart; start < range.to; start += partBytes, n++) {
    const end = Math.min(start + partBytes, range.to) - 1;
    const copied = await target.client.send(
      new UploadPartCopyCommand({
        Bucket: target.bucket,
        Key: target.key,
        UploadId: uploadId,
        PartNumber: n,
        CopySource: copySource,
        CopySourceRange: `bytes=${start}-${end}`,
        CopySourceIfMatch: range.expectedRevision,
      }),
    );
    parts.push({ PartNumber: n, ETag: requireEtag(copied.CopyPartResult?.ETag) });
  }
  return parts;
}

/**
 * What a HeadObject of a metadata-layout object answered, kept so that the re-wrap that follows
 * `getHeader` needs no second HEAD: its facts (metadata, content type, SSE, storage class, size)
 * and the stored header, which is ciphertext (a wrapped data key), never plaintext. At most
 * `limit` entries (oldest dropped first), each used once, within {@link HEAD_MEMO_MAX_AGE_MS} and
 * only at the ETag it was read at. The rewrite is conditional on that ETag, but in the metadata
 * layout a header re-wrap keeps the ETag: an entry older than the last such change would restate
 * the metadata, storage class and encryption it saw, so entries live seconds, not minutes (a
 * sweep re-wraps right after its header read).
 *
 * @example
 * const memo = new HeadMemo(4096);
 * memo.remember('o-1', head);
 * const known = memo.take('o-1', revision);
 */
export class HeadMemo {
  private readonly entries = new Map<string, HeadFacts & { readonly at: number }>();

  public constructor(
    private readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Entries held now. */
  public get size(): number {
    return this.entries.size;
  }

  /** Keeps `head` for `id`, dropping the oldest entry when full. */
  public remember(id: string, head: HeadFacts): void {
    this.entries.delete(id);
    if (this.limit === 0) return;
    this.entries.set(id, { ...head, at: this.now() });
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** Removes and returns the entry of `id` when it was read at `etag`. */
  public take(id: string, etag: string): HeadFacts | undefined {
    const entry = this.entries.get(id);
    this.entries.delete(id);
    if (entry === undefined || entry.facts.etag !== etag || this.now() - entry.at > HEAD_MEMO_MAX_AGE_MS) return undefined;
    return { facts: entry.facts, header: entry.header };
  }

  /** Drops the entry of `id`, if any. */
  public forget(id: string): void {
    this.entries.delete(id);
  }
}

