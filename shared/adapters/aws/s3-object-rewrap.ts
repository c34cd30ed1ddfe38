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
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { BackendError, ConflictError, ValidationError } from '../../errors';
import { probeHeaderLength } from '../../envelope/format';
import { assertRewraps, copyParts, copyWithMetadata, metadataWithHeader, type HeadFacts } from './s3-metadata-layout';
import {
  conditionalError,
  factsOf,
  HEADER_METADATA,
  headerFromMetadata,
  indexOf,
  keptSettings,
  recordIndexMetadata,
  MAX_HEADER_BYTES,
  MIN_PART_BYTES,
  positiveInt,
  requireEtag,
  type ObjectFacts,
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

/** What the caller already knows of the object, and whether a body-layout object should move to the metadata layout. */
export interface RewrapOptions {
  /** The whole object at some ETag (used only at `expectedRevision`), e.g. from the header read. */
  readonly known?: KnownObject | undefined;
  /** A HeadObject of the object at `expectedRevision` (the metadata layout's header read). */
  readonly head?: HeadFacts | undefined;
  /**
   * Rewrite a body-layout object into the metadata layout (its header into the metadata, the
   * rest as the body) when the new header fits; needs `head`. A metadata-layout object is
   * always re-wrapped in place, whatever this says.
   */
  readonly toMetadata?: boolean;
}

/** A whole record object read earlier (its bytes and the answer's facts), which a rewrite at the same ETag needs not read again. */
export interface KnownObject {
  /** Every byte of the object: `bytes.length === facts.size`. */
  readonly bytes: Buffer;
  readonly facts: ObjectFacts;
}

/**
 * Replaces the first `oldHeaderLength` bytes of the object with `newHeader`, conditional on
 * `expectedRevision`, and returns the new revision; the semantics are those documented on
 * `S3RecordStore.rewrapObject`.
 *
 * Requests: with `known` (the whole object at `expectedRevision`, e.g. from the header read)
 * and a result below the multipart threshold, one conditional PutObject; otherwise one ranged
 * GET with `If-Match` from byte 0 (the old header to check, the body up to what a multipart's
 * first part needs, and the size, metadata, content type and SSE settings a HEAD gave before),
 * then, below the threshold, a second ranged GET only for an object longer than that first
 * read, and the conditional PutObject. The `If-Match` on the write is what makes any of this
 * safe: bytes read at another ETag can never overwrite the object.
 *
 * @example
 * const revision = await rewrapS3Object({ client, bucket, key, id, multipartThreshold, copyPartBytes }, header);
 */
export async function rewrapS3Object(target: RewrapTarget, input: RewrapHeader, options: RewrapOptions = {}): Promise<string> {
  const what = `record '${target.id}'`;
  const { known, head } = options;
  positiveInt(input.oldHeaderLength, 'oldHeaderLength', 1, MAX_HEADER_BYTES);
  if (head?.header !== undefined) return rewrapInMetadata(target, input, head.facts, head.header);
  // A body-layout object moves to the metadata layout when its new header fits there (with the
  // object's other metadata); otherwise it is re-wrapped in the body layout below.
  const moved = options.toMetadata === true && head !== undefined && head.facts.size > input.oldHeaderLength
    ? metadataWithHeader(head.facts.metadata, target.id, input.newHeader, input.version, true)
    : undefined;
  if (moved !== undefined && head !== undefined) return convertToMetadata(target, input, head.facts, known);
  // Part 1 of a multipart rewrite is the new header plus this many body bytes (S3's 5 MiB floor).
  const firstBodyBytes = MIN_PART_BYTES - input.newHeader.length;
  const firstReadEnd = input.oldHeaderLength + firstBodyBytes - 1;
  const { bytes: read, facts } = usableAt(known, input.expectedRevision) ?? (await readRange(target, 0, firstReadEnd, input.expectedRevision, what));
  // A metadata-layout object met by a body-layout store (or one written meanwhile): its bytes are body only.
  const stored = headerFromMetadata(facts.metadata, target.id);
  if (stored !== undefined) return rewrapInMetadata(target, input, facts, stored);
  const size = facts.size;
  const oldHeaderLength = positiveInt(input.oldHeaderLength, 'oldHeaderLength', 1, Math.min(size, MAX_HEADER_BYTES));
  if (input.checkOldHeader === true) checkOldHeader(read, input, what);
  const { keyring } = indexOf(facts.metadata, target.id);
  // The origin is read from the new header (a header-only re-wrap keeps it): the index then
  // follows the authenticated header, whatever the old metadata said.
  const metadata = { ...facts.metadata, ...recordIndexMetadata(keyring, input.version, input.newHeader) };
  const bodyLength = size - oldHeaderLength;
  const newSize = input.newHeader.length + bodyLength;
  const sse = keptSettings(facts);

  if (newSize < target.multipartThreshold) {
    const rest = read.length < size ? (await readRange(target, read.length, size - 1, input.expectedRevision, what)).bytes : Buffer.alloc(0);
    const body = Buffer.concat([read, rest]).subarray(oldHeaderLength);
    return putRewrite(target, Buffer.concat([input.newHeader, body]), metadata, facts, input.expectedRevision);
  }

  // At or above the threshold the object is longer than the first read, which holds all of part 1.
  if (read.length < firstReadEnd + 1) throw new BackendError(`short read of ${what}`, { retryable: true });
  let uploadId: string | undefined;
  try {
    const created = await target.client.send(
      new CreateMultipartUploadCommand({
        Bucket: target.bucket,
        Key: target.key,
        ContentType: facts.contentType,
        Metadata: metadata,
        ...sse,
      }),
    );
    uploadId = created.UploadId;
    if (uploadId === undefined) throw new BackendError('S3 CreateMultipartUpload returned no UploadId', { retryable: false });

    const first = read.subarray(oldHeaderLength, oldHeaderLength + firstBodyBytes);
    const part1 = await target.client.send(
      new UploadPartCommand({ Bucket: target.bucket, Key: target.key, UploadId: uploadId, PartNumber: 1, Body: Buffer.concat([input.newHeader, first]) }),
    );
    const parts: CompletedPart[] = [{ PartNumber: 1, ETag: requireEtag(part1.ETag) }];

    parts.push(...(await copyParts(target, uploadId, { from: oldHeaderLength + firstBodyBytes, to: size, firstPart: 2, expectedRevision: input.expectedRevision })));
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

// Guarded by If-Match rather than pinned to a VersionId (see the copy source above). The range
// may run past the end of the object: S3 then answers the bytes there are, and Content-Range the size.
async function readRange(target: RewrapTarget, start: number, end: number, ifMatch: string, what: string): Promise<KnownObject> {
  try {
    const out = await target.client.send(
      new GetObjectCommand({ Bucket: target.bucket, Key: target.key, Range: `bytes=${start}-${end}`, IfMatch: ifMatch }),
    );
    const bytes = Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
    const facts = factsOf(out);
    if (bytes.length !== Math.min(end, facts.size - 1) - start + 1) throw new BackendError(`short read of ${what}`, { retryable: true });
    return { bytes, facts };
  } catch (err) {
    // A range from byte 0 of a zero-byte object: nothing rekey wrote.
    if ((err as { name?: string }).name === 'InvalidRange') throw new BackendError(`${what} is empty`, { retryable: false });
    if (err instanceof BackendError) throw err;
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
  if (length !== input.oldHeaderLength || bytes.length < input.oldHeaderLength) throw new ValidationError(`the new header of ${what} does not re-wrap its stored header`);
  assertRewraps(bytes.subarray(0, input.oldHeaderLength), input.newHeader, what);
}

/** `known` when it holds the whole object at `etag`; undefined otherwise (the object must be read). */
function usableAt(known: KnownObject | undefined, etag: string): KnownObject | undefined {
  return known !== undefined && known.facts.etag === etag && known.bytes.length === known.facts.size ? known : undefined;
}

/** The metadata of a body-layout object moving to the metadata layout; the caller checked that it fits (against the HEAD). */
function movedMetadata(facts: ObjectFacts, id: string, input: RewrapHeader): Record<string, string> {
  const metadata = metadataWithHeader(facts.metadata, id, input.newHeader, input.version, true);
  // The object read now carries other metadata than the HEAD did (a metadata-only copy keeps the
  // ETag, so the conditional read did not refuse it): a conflict, and the next pass HEADs afresh.
  if (metadata === undefined) throw new ConflictError(`record '${id}' changed while it was re-wrapped`);
  return metadata;
}

/** Re-wraps a metadata-layout object: its header is in `stored`, and only the metadata changes (no body byte is read). */
async function rewrapInMetadata(target: RewrapTarget, input: RewrapHeader, facts: ObjectFacts, stored: Buffer): Promise<string> {
  if (input.checkOldHeader === true) assertRewraps(stored, input.newHeader, `record '${target.id}'`);
  else if (input.oldHeaderLength !== stored.length) throw new ValidationError(`oldHeaderLength of record '${target.id}' is not the length of its stored header`);
  // A re-wrap keeps the header's length, so what fitted still fits; a raw rewrite of other bytes may not.
  const metadata = metadataWithHeader(facts.metadata, target.id, input.newHeader, input.version, false);
  if (metadata !== undefined) return copyWithMetadata(target, facts, 0, metadata, input.expectedRevision);
  // The metadata cannot hold it (bytes that are no whole header, or an object written without the
  // headroom whose version gained a digit): the object goes back to the body layout.
  return convertToBody(target, input, facts);
}

/**
 * Moves a metadata-layout object back to the body layout with `input.newHeader` in front of its
 * body: one GET and a conditional PUT. Only below the multipart threshold (a larger object would
 * need its first 5 MiB through this process); above it, a ValidationError.
 */
async function convertToBody(target: RewrapTarget, input: RewrapHeader, facts: ObjectFacts): Promise<string> {
  const what = `record '${target.id}'`;
  if (facts.size + input.newHeader.length >= target.multipartThreshold) throw new ValidationError(`the new header of ${what} does not fit its metadata, and the object is too large to move back to the body layout`);
  const { bytes, facts: read } = await readRange(target, 0, facts.size - 1, input.expectedRevision, what);
  const { [HEADER_METADATA]: _dropped, ...rest } = read.metadata ?? {};
  const { keyring } = indexOf(read.metadata, target.id);
  return putRewrite(target, Buffer.concat([input.newHeader, bytes]), { ...rest, ...recordIndexMetadata(keyring, input.version, input.newHeader) }, read, input.expectedRevision);
}

/**
 * The conditional PutObject every small rewrite ends with: `body` and `metadata` at the key, with
 * the old object's content type and kept settings, only while it is still at `expectedRevision`.
 */
async function putRewrite(target: RewrapTarget, body: Buffer, metadata: Record<string, string>, facts: ObjectFacts, expectedRevision: string): Promise<string> {
  try {
    const out = await target.client.send(
      new PutObjectCommand({
        Bucket: target.bucket,
        Key: target.key,
        Body: body,
        ContentType: facts.contentType,
        Metadata: metadata,
        IfMatch: expectedRevision,
        ...keptSettings(facts),
      }),
    );
    return requireEtag(out.ETag);
  } catch (err) {
    throw conditionalError(err, expectedRevision, `record '${target.id}'`);
  }
}

/**
 * Moves a body-layout object to the metadata layout with its new header: below the multipart
 * threshold one GET (none with `known`) and a conditional PUT of the body alone; from it on, a
 * ranged GET of the old header and an S3-side copy of the body (no body byte passes through).
 */
async function convertToMetadata(target: RewrapTarget, input: RewrapHeader, facts: ObjectFacts, known: KnownObject | undefined): Promise<string> {
  const what = `record '${target.id}'`;
  const bodyLength = facts.size - input.oldHeaderLength;
  if (bodyLength >= target.multipartThreshold) {
    const { bytes, facts: read } = await readRange(target, 0, input.oldHeaderLength - 1, input.expectedRevision, what);
    if (input.checkOldHeader === true) checkOldHeader(bytes, input, what);
    return copyWithMetadata(target, read, input.oldHeaderLength, movedMetadata(read, target.id, input), input.expectedRevision);
  }
  const whole = usableAt(known, input.expectedRevision) ?? (await readRange(target, 0, facts.size - 1, input.expectedRevision, what));
  if (input.checkOldHeader === true) checkOldHeader(whole.bytes, input, what);
  return putRewrite(target, whole.bytes.subarray(input.oldHeaderLength), movedMetadata(whole.facts, target.id, input), whole.facts, input.expectedRevision);
}

/**
 * Whole small record objects that a header read happened to return entirely, kept so that the
 * re-wrap of the same object at the same ETag needs no read (one conditional PutObject).
 *
 * Bounded by bytes: an object larger than the budget is never kept, and the oldest entries go
 * first once the total would exceed it, so the memo never holds more than `budgetBytes` of
 * object bytes. It holds stored envelopes only (ciphertext as written to S3, never plaintext),
 * at most one entry per record id, and an entry is dropped once a rewrite takes it. A stale
 * entry (the object changed since) is harmless: the write is conditional on the entry's ETag
 * and fails with ConflictError rather than overwrite.
 *
 * @example
 * const memo = new WholeObjectMemo(4 * 1024 * 1024);
 * memo.remember('o-1', { bytes, facts });
 * const known = memo.take('o-1', revision); // undefined unless the ETag matches
 */
export class WholeObjectMemo {
  private readonly entries = new Map<string, KnownObject>();
  private held = 0;

  public constructor(private readonly budgetBytes: number) {}

  /** Object bytes held now (never more than the budget). */
  public get bytes(): number {
    return this.held;
  }

  /** Entries held now. */
  public get size(): number {
    return this.entries.size;
  }

  /** Keeps `object` for `id` when it is whole and fits the budget, evicting the oldest entries as needed. */
  public remember(id: string, object: KnownObject): void {
    this.forget(id);
    if (object.bytes.length !== object.facts.size || object.bytes.length > this.budgetBytes) return;
    while (this.held + object.bytes.length > this.budgetBytes) {
      const oldest = this.entries.keys().next().value as string;
      this.forget(oldest);
    }
    this.entries.set(id, object);
    this.held += object.bytes.length;
  }

  /** Removes and returns the entry of `id` when it was read at `etag`; any other entry of `id` is dropped too. */
  public take(id: string, etag: string): KnownObject | undefined {
    const entry = this.entries.get(id);
    this.forget(id);
    return entry?.facts.etag === etag ? entry : undefined;
  }

  /** Drops the entry of `id`, if any. */
  public forget(id: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    this.entries.delete(id);
    this.held -= entry.bytes.length;
  }
}
