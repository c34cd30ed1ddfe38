/**
 * RecordCensusStore on S3, in the stack's state bucket (layout: shared/vocabulary/record-census.ts).
 * The census document is replaced conditionally (`If-None-Match: *` to create, `If-Match` to
 * replace: https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html);
 * a write mark is an empty object whose key carries the event time, version, origin and event
 * id, so marking is one idempotent PUT and counting is a listing (1,000 marks per request) that
 * never reads an object.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BackendError, ConflictError, ValidationError } from '../../errors';
import type { CensusWrite, RecordCensusStore, TargetCensus } from '../../ports/record-census';
import { partOf, sumParts } from '../../reencrypt/census';
import { assertKeyringName } from '../../vocabulary/keyring-name';
import { censusKey, censusWritesPrefix, type CensusTarget } from '../../vocabulary/record-census';
import { isAwsConditionFailed, isAwsNotFound, mapAwsError } from './map-aws-error';
import { maxAttemptsOption } from './max-attempts';

/** Options of {@link S3RecordCensus}. */
export interface S3RecordCensusOptions {
  readonly client: S3Client;
  /** The state bucket (the catalog's). */
  readonly bucket: string;
  /** Attempts of a conditional replace before a ConflictError. @default 5 */
  readonly maxAttempts?: number;
}

/** The stored census document. */
interface CensusDocument {
  readonly schema: 1;
  readonly keyring: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly startedAt: string;
  readonly closedAt: string;
  readonly writeEvents: boolean;
  readonly writeEventsSince?: string;
  readonly source?: string;
  readonly byVersion: Readonly<Record<string, number>>;
  readonly byOrigin: Readonly<Record<string, number>>;
  readonly unknown: number;
}

/** Largest census document read back (a few thousand versions stay far below). */
const MAX_DOCUMENT_BYTES = 1024 * 1024;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const MARK = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)\/([1-9]\d{0,6})\.([1-9]\d{0,6})\.[A-Za-z0-9-]{1,128}$/;

/**
 * {@link RecordCensusStore} over S3 conditional writes.
 *
 * @example
 * const census = new S3RecordCensus({ client: s3, bucket: 'rekey-state' });
 * await census.recordWrite(target, { at: new Date(), version: 3, origin: 1, eventId: 'e-1' });
 * await census.writesSince(target, new Date(Date.now() - 86_400_000), 100_000); // [{ at, version: 3, origin: 1 }]
 */
export class S3RecordCensus implements RecordCensusStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly maxAttempts: number;

  public constructor(options: S3RecordCensusOptions) {
    if (typeof options.bucket !== 'string' || options.bucket.length === 0) throw new ValidationError('bucket is required');
    const maxAttempts = maxAttemptsOption(options.maxAttempts);
    this.client = options.client;
    this.bucket = options.bucket;
    this.maxAttempts = maxAttempts;
  }

  public async read(target: CensusTarget): Promise<TargetCensus | undefined> {
    return (await this.readDocument(target))?.census;
  }

  public async close(census: TargetCensus): Promise<'written' | 'superseded'> {
    const target = checkTarget(census.target);
    const body = JSON.stringify(toDocument(census));
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const stored = await this.readDocument(target);
      if (stored !== undefined && stored.census.startedAt.getTime() > census.startedAt.getTime()) return 'superseded';
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: censusKey(target),
            Body: body,
            ContentType: 'application/json',
            ...(stored === undefined ? { IfNoneMatch: '*' } : { IfMatch: stored.etag }),
          }),
        );
        return 'written';
      } catch (err) {
        // Another closer wrote first (412/409) or the document went away: read again and decide again.
        if (isAwsConditionFailed(err) || (stored !== undefined && isAwsNotFound(err))) continue;
        throw mapAwsError(err, { resource: `census of keyring '${target.keyring}'` });
      }
    }
    throw new ConflictError(`census of keyring '${target.keyring}' kept changing: gave up after ${this.maxAttempts} attempts`);
  }

  public async recordWrite(target: CensusTarget, write: CensusWrite): Promise<void> {
    checkTarget(target);
    if (!(write.at instanceof Date) || Number.isNaN(write.at.getTime())) throw new ValidationError('write.at must be a valid Date');
    for (const [name, v] of [['version', write.version], ['origin', write.origin]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > 9_999_999) throw new ValidationError(`write.${name} must be a positive integer`);
    }
    if (typeof write.eventId !== 'string' || !/^[A-Za-z0-9-]{1,128}$/.test(write.eventId)) throw new ValidationError('write.eventId must be 1 to 128 letters, digits or dashes');
    const key = `${censusWritesPrefix(target)}${isoSeconds(write.at)}/${write.version}.${write.origin}.${write.eventId}`;
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: '' }));
    } catch (err) {
      throw mapAwsError(err, { resource: `census of keyring '${target.keyring}'` });
    }
  }

  public async writesSince(target: CensusTarget, since: Date, limit: number): Promise<readonly Omit<CensusWrite, 'eventId'>[] | 'cannot-say'> {
    checkTarget(target);
    if (!Number.isInteger(limit) || limit < 0) throw new ValidationError('limit must be a non-negative integer');
    const prefix = censusWritesPrefix(target);
    const out: Omit<CensusWrite, 'eventId'>[] = [];
    // Marks sort by time (fixed-width ISO seconds): StartAfter skips every older one. A mark in
    // the very second `since` names sorts after the bare time, so it is listed.
    let token: string | undefined;
    const startAfter = `${prefix}${isoSeconds(new Date(Math.floor(since.getTime() / 1000) * 1000 - 1000))}`;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token === undefined ? { StartAfter: startAfter } : { ContinuationToken: token }), MaxKeys: 1000 }),
        );
      } catch (err) {
        throw mapAwsError(err, { resource: `census of keyring '${target.keyring}'` });
      }
      for (const o of page.Contents ?? []) {
        const m = MARK.exec((o.Key ?? '').slice(prefix.length));
        if (m === null) return 'cannot-say';
        const at = new Date(m[1] as string);
        if (at.getTime() < since.getTime() - 999) continue;
        out.push({ at, version: Number(m[2]), origin: Number(m[3]) });
        if (out.length > limit) return 'cannot-say';
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  }

  private async readDocument(target: CensusTarget): Promise<{ census: TargetCensus; etag: string } | undefined> {
    checkTarget(target);
    let text: string;
    let etag: string | undefined;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: censusKey(target) }));
      if ((out.ContentLength ?? 0) > MAX_DOCUMENT_BYTES) throw new BackendError(`census of keyring '${target.keyring}' is larger than ${MAX_DOCUMENT_BYTES} bytes`, { retryable: false });
      text = (await out.Body?.transformToString('utf8')) ?? '';
      etag = out.ETag;
    } catch (err) {
      if (isAwsNotFound(err)) return undefined;
      throw mapAwsError(err, { resource: `census of keyring '${target.keyring}'` });
    }
    if (etag === undefined) throw new BackendError('S3 GetObject returned no ETag', { retryable: false });
    return { census: parseDocument(target, text), etag };
  }
}

function checkTarget(target: CensusTarget): CensusTarget {
  assertKeyringName(target.keyring);
  if (typeof target.bucket !== 'string' || target.bucket.length === 0) throw new ValidationError('census target: bucket is required');
  if (typeof target.prefix !== 'string') throw new ValidationError('census target: prefix must be a string');
  return target;
}

function isoSeconds(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

function toDocument(c: TargetCensus): CensusDocument {
  const part = partOf(c.counts);
  return {
    schema: 1,
    keyring: c.target.keyring,
    bucket: c.target.bucket,
    prefix: c.target.prefix,
    startedAt: c.startedAt.toISOString(),
    closedAt: c.closedAt.toISOString(),
    writeEvents: c.writeEvents,
    ...(c.writeEventsSince === undefined ? {} : { writeEventsSince: c.writeEventsSince.toISOString() }),
    ...(c.source === undefined ? {} : { source: c.source }),
    ...part,
  };
}

/** Validates a stored document; a corrupt one is a BackendError (never silently "no records"). */
function parseDocument(target: CensusTarget, text: string): TargetCensus {
  const corrupt = (why: string): BackendError => new BackendError(`census of keyring '${target.keyring}' is corrupt: ${why}`, { retryable: false });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw corrupt('not JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw corrupt('not an object');
  const d = json as Record<string, unknown>;
  if (d.schema !== 1) throw corrupt('unknown schema');
  if (d.keyring !== target.keyring || d.bucket !== target.bucket || d.prefix !== target.prefix) throw corrupt('names another target');
  for (const f of ['startedAt', 'closedAt'] as const) if (typeof d[f] !== 'string' || !ISO.test(d[f] as string)) throw corrupt(`${f} is not an ISO time`);
  if (typeof d.writeEvents !== 'boolean') throw corrupt('writeEvents is not a boolean');
  if (d.writeEventsSince !== undefined && (typeof d.writeEventsSince !== 'string' || !ISO.test(d.writeEventsSince))) throw corrupt('writeEventsSince is not an ISO time');
  if (d.source !== undefined && (typeof d.source !== 'string' || d.source.length > 2048)) throw corrupt('source is not a string');
  let counts;
  try {
    counts = sumParts([{ byVersion: d.byVersion, byOrigin: d.byOrigin, unknown: d.unknown }]);
  } catch (err) {
    throw corrupt(err instanceof Error ? err.message : 'counts');
  }
  return {
    target,
    startedAt: new Date(d.startedAt as string),
    closedAt: new Date(d.closedAt as string),
    writeEvents: d.writeEvents,
    ...(typeof d.writeEventsSince === 'string' ? { writeEventsSince: new Date(d.writeEventsSince) } : {}),
    counts,
    ...(typeof d.source === 'string' ? { source: d.source } : {}),
  };
}
