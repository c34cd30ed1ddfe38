/**
 * How an application that stores envelopes in S3 objects itself reads and writes them when its
 * record target uses the metadata layout (cdk.json `recordTargets[].layout: 'metadata'`,
 * docs/record-stores.md): the envelope header in the object's user metadata
 * (`x-amz-meta-rekey-header`, base64) and the rest of the envelope as the body. rekey's sweep
 * re-wraps such an object with a metadata-only copy, so its body alone is no envelope: read it
 * back through {@link envelopeFromS3Object}, which also reads body-layout objects (those it has
 * not moved yet, or any target in the default layout).
 */
import { NotARecordError, ValidationError } from '../errors';
import { parseHeader } from './format';

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

/** S3's limit on the user metadata of a PUT or copy: keys and values, UTF-8 ("Working with object metadata"). */
export const MAX_USER_METADATA_BYTES = 2048;

/**
 * Bytes kept free below {@link MAX_USER_METADATA_BYTES} when an object enters the metadata
 * layout, so that later re-wraps (whose version numbers may gain digits) always fit.
 */
const METADATA_HEADROOM_BYTES = 32;

/** UTF-8 bytes of user metadata as S3 counts them (keys and values). */
export function userMetadataBytes(metadata: Record<string, string>): number {
  return Object.entries(metadata).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
}

/** The index keys of a record object: keyring, version and the origin its header names. */
export function recordIndexMetadata(keyring: string, version: number, header: Buffer): Record<string, string> {
  return { [KEYRING_METADATA]: keyring, [VERSION_METADATA]: String(version), [ORIGIN_METADATA]: String(originOfEnvelope(header)) };
}

/**
 * `metadata` with `header` added under {@link HEADER_METADATA}, or undefined when the object
 * must keep the body layout: the header is no whole rekey header, longer than
 * {@link MAX_METADATA_HEADER_BYTES}, or would take the metadata over S3's 2 KB (less a headroom
 * for later re-wraps when the object is `entering` the layout; a re-wrap of an object already in
 * it may use the whole 2 KB). `metadata` should hold the index already.
 */
export function metadataHolding(metadata: Record<string, string>, header: Buffer, entering = true): Record<string, string> | undefined {
  if (header.length === 0 || header.length > MAX_METADATA_HEADER_BYTES) return undefined;
  try {
    if (parseHeader(header).headerLength !== header.length) return undefined;
  } catch {
    return undefined;
  }
  const out = { ...metadata, [HEADER_METADATA]: header.toString('base64') };
  return userMetadataBytes(out) <= MAX_USER_METADATA_BYTES - (entering ? METADATA_HEADROOM_BYTES : 0) ? out : undefined;
}

/**
 * How an envelope is stored in the metadata layout beside `metadata` (the index and any other
 * keys): the object's metadata with the header, and the rest of the envelope as the body;
 * undefined when it must keep the body layout (no parsable header, nothing after it, or a header
 * {@link metadataHolding} refuses).
 */
export function splitEnvelope(envelope: Buffer, metadata: Record<string, string>): { metadata: Record<string, string>; body: Buffer } | undefined {
  let length: number;
  try {
    length = parseHeader(envelope).headerLength;
  } catch {
    return undefined;
  }
  if (length >= envelope.length) return undefined;
  const holding = metadataHolding(metadata, Buffer.from(envelope.subarray(0, length)));
  return holding === undefined ? undefined : { metadata: holding, body: envelope.subarray(length) };
}

/** What a GetObject answered: the body bytes and the user metadata (the SDK's `Metadata`). */
export interface S3ObjectParts {
  readonly body: Uint8Array;
  readonly metadata?: Record<string, string> | undefined;
}

/** What to PutObject: the body and the user metadata (the SDK's `Body` and `Metadata`). */
export interface S3ObjectWrite {
  readonly body: Buffer;
  readonly metadata: Record<string, string>;
}

/**
 * The envelope an S3 object holds, in either layout: the header from the metadata followed by
 * the body, or the body alone when the metadata holds no header. Bad header metadata is a
 * NotARecordError (a BackendError), never a partial envelope.
 *
 * @example
 * const out = await s3.send(new GetObjectCommand({ Bucket, Key }));
 * const envelope = envelopeFromS3Object({ body: await out.Body!.transformToByteArray(), metadata: out.Metadata });
 * const { plaintext } = await rekey.decrypt(envelope);
 */
export function envelopeFromS3Object(object: S3ObjectParts, id = 'object'): Buffer {
  const body = Buffer.from(object.body);
  const header = headerFromMetadata(object.metadata, id);
  return header === undefined ? body : Buffer.concat([header, body]);
}

/**
 * The body and metadata with which to write `envelope` in `layout`: the index keys rekey's
 * counts read (keyring, version, origin) and, in the metadata layout, the header. An envelope
 * whose header the metadata cannot hold (longer than 1,200 bytes, or beyond S3's 2 KB of user
 * metadata with `extra`) is written in the body layout, as rekey's own store does. `extra` is
 * the application's own metadata (its `rekey-*` keys are dropped). Pass both to
 * PutObject (`Body`, `Metadata`), with `If-Match` / `If-None-Match` as your writes need. Use the
 * layout the record target is configured with (cdk.json `recordTargets[].layout`).
 *
 * @example
 * const envelope = await rekey.encrypt('pii', plaintext);
 * const { body, metadata } = s3ObjectFromEnvelope(envelope, 'metadata');
 * await s3.send(new PutObjectCommand({ Bucket, Key, Body: body, Metadata: metadata }));
 */
export function s3ObjectFromEnvelope(envelope: Buffer, layout: 'body' | 'metadata', extra: Record<string, string> = {}): S3ObjectWrite {
  if (!Buffer.isBuffer(envelope) || envelope.length === 0) throw new ValidationError('envelope must be a non-empty Buffer');
  if (layout !== 'body' && layout !== 'metadata') throw new ValidationError("layout must be 'body' or 'metadata'");
  let parsed;
  try {
    parsed = parseHeader(envelope);
  } catch {
    throw new ValidationError('envelope is not a rekey envelope');
  }
  // rekey's own keys come from the envelope alone: a stale `rekey-header` (say, from an object's
  // old metadata passed back as `extra`) would otherwise be prepended to a body-layout envelope.
  const own = Object.fromEntries(Object.entries(extra).filter(([k]) => !k.toLowerCase().startsWith('rekey-')));
  const metadata = { ...own, ...recordIndexMetadata(parsed.keyring, parsed.version, envelope) };
  const split = layout === 'metadata' ? splitEnvelope(envelope, metadata) : undefined;
  return split === undefined ? { body: envelope, metadata } : { body: Buffer.from(split.body), metadata: split.metadata };
}
