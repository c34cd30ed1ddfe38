/**
 * KeyUseLog on S3: one small JSON document per keyring in the stack's state bucket (next to the
 * catalog, outside its prefix), holding the last observed use of each version and since when
 * uses are observed. Every write is conditional (`If-None-Match: *` to create, `If-Match:
 * <etag>` to update, S3 conditional writes: https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html),
 * retried a bounded number of times on a lost race, and merges by maximum, so concurrent
 * observers (one Lambda per CloudTrail event) never move a time backwards or lose a use.
 *
 * Document: `{ "keyring": "pii", "observingSince": "<ISO>", "versions": { "3": { "at": "<ISO>", "by": "<ARN>" } } }`.
 */
import { FUNCTION_SDK_TIMEOUTS, newSdkClient } from './sdk-client-options';
import { GetObjectCommand, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { AccessDeniedError, BackendError, ConflictError, ValidationError } from '../../errors';
import type { KeyUse, KeyUseLog } from '../../ports/key-use-log';
import { KEY_USE_PREFIX } from '../../vocabulary/key-use-names';
import { assertKeyringName } from '../../vocabulary/keyring-name';
import { isAwsConditionFailed, isAwsNotFound, mapAwsError } from './map-aws-error';
import { maxAttemptsOption } from './max-attempts';

/** Options of {@link S3KeyUseLog}. */
export interface S3KeyUseLogOptions {
  /** The state bucket (the catalog's). */
  readonly bucket: string;
  /** Key prefix of the documents. @default {@link KEY_USE_PREFIX} */
  readonly prefix?: string;
  /** A ready S3 client; when absent one is built from `clientConfig`. */
  readonly client?: S3Client;
  readonly clientConfig?: S3ClientConfig;
  /** @default () => new Date() */
  readonly clock?: () => Date;
  /**
   * Whether {@link S3KeyUseLog.observingSince} starts the log of a keyring that has none (a
   * conditional create, stamped now), so a version nobody ever unwraps still reaches the end of
   * its quiet period. A caller whose role may not write (the operator's) then gets `undefined`
   * ("cannot say"), as a caller that passes false always does. @default false
   */
  readonly startOnRead?: boolean;
  /** Attempts of a conditional write before a ConflictError. @default 5 */
  readonly maxAttempts?: number;
}

/** The stored document of one keyring. */
interface KeyUseDocument {
  readonly keyring: string;
  readonly observingSince: string;
  readonly versions: Readonly<Record<string, { readonly at: string; readonly by?: string }>>;
}

/** Largest document read back: thousands of versions stay far below. */
const MAX_DOCUMENT_BYTES = 1024 * 1024;

/**
 * {@link KeyUseLog} over S3 conditional writes.
 *
 * @example
 * const log = new S3KeyUseLog({ bucket: 'rekey-catalog', client: s3 });
 * await log.recordUse('pii', 3, { at: new Date('2027-01-02T10:00:00Z'), by: 'arn:aws:sts::123456789012:assumed-role/orders/orders' });
 * (await log.lastUse('pii')).get(3)?.at; // 2027-01-02T10:00:00.000Z
 */
export class S3KeyUseLog implements KeyUseLog {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly clock: () => Date;
  private readonly startOnRead: boolean;
  private readonly maxAttempts: number;

  public constructor(options: S3KeyUseLogOptions) {
    if (typeof options.bucket !== 'string' || options.bucket.length === 0) throw new ValidationError('bucket is required');
    const maxAttempts = maxAttemptsOption(options.maxAttempts);
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? KEY_USE_PREFIX;
    this.client = options.client ?? newSdkClient(S3Client, { ...options.clientConfig }, FUNCTION_SDK_TIMEOUTS);
    this.clock = options.clock ?? (() => new Date());
    this.startOnRead = options.startOnRead ?? false;
    this.maxAttempts = maxAttempts;
  }

  /** Records a use; a time at or before the stored one changes nothing (no write). */
  public async recordUse(keyring: string, version: number, use: KeyUse): Promise<void> {
    assertKeyringName(keyring);
    if (!Number.isInteger(version) || version < 1) throw new ValidationError('version must be a positive integer');
    if (!(use.at instanceof Date) || Number.isNaN(use.at.getTime())) throw new ValidationError('use.at must be a valid Date');
    if (use.by !== undefined && (typeof use.by !== 'string' || use.by.length > 2048)) throw new ValidationError('use.by must be a string of at most 2048 characters');
    await this.update(keyring, (doc) => {
      const key = String(version);
      const stored = doc.versions[key];
      if (stored !== undefined && Date.parse(stored.at) >= use.at.getTime()) return undefined;
      return { ...doc, versions: { ...doc.versions, [key]: { at: use.at.toISOString(), ...(use.by === undefined ? {} : { by: use.by }) } } };
    });
  }

  /** The last observed use of each version; empty when the keyring has no log yet. */
  public async lastUse(keyring: string): Promise<ReadonlyMap<number, KeyUse>> {
    const read = await this.read(keyring);
    const out = new Map<number, KeyUse>();
    for (const [v, use] of Object.entries(read?.doc.versions ?? {})) out.set(Number(v), { at: new Date(use.at), ...(use.by === undefined ? {} : { by: use.by }) });
    return out;
  }

  /** When the keyring's log began; with `startOnRead`, begins it now when there is none. */
  public async observingSince(keyring: string): Promise<Date | undefined> {
    const read = await this.read(keyring);
    if (read !== undefined) return new Date(read.doc.observingSince);
    if (!this.startOnRead) return undefined;
    try {
      await this.update(keyring, () => undefined);
    } catch (err) {
      // A reader that may not write (the operator's role) cannot start the log: it cannot say since when, which is the safe answer.
      if (err instanceof AccessDeniedError) return undefined;
      throw err;
    }
    const started = await this.read(keyring);
    return started === undefined ? undefined : new Date(started.doc.observingSince);
  }

  /**
   * Read, change, conditional write, up to `maxAttempts` times. `change` returns undefined when
   * nothing needs writing; a missing document is created first (observingSince = now), so the
   * log's start is the first instant anything was recorded or asked.
   */
  private async update(keyring: string, change: (doc: KeyUseDocument) => KeyUseDocument | undefined): Promise<void> {
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const read = await this.read(keyring);
      const base: KeyUseDocument = read?.doc ?? { keyring, observingSince: this.clock().toISOString(), versions: {} };
      const next = change(base) ?? (read === undefined ? base : undefined);
      if (next === undefined) return;
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: this.keyFor(keyring),
            Body: JSON.stringify(next),
            ContentType: 'application/json',
            ...(read === undefined ? { IfNoneMatch: '*' } : { IfMatch: read.etag }),
          }),
        );
        return;
      } catch (err) {
        // 412/409: another observer wrote first; 404 on If-Match: the document went away. Read again and merge.
        if (isAwsConditionFailed(err) || (read !== undefined && isAwsNotFound(err))) continue;
        throw mapAwsError(err, { resource: `key-use log of keyring '${keyring}'` });
      }
    }
    throw new ConflictError(`key-use log of keyring '${keyring}' kept changing: gave up after ${this.maxAttempts} attempts`);
  }

  private async read(keyring: string): Promise<{ doc: KeyUseDocument; etag: string } | undefined> {
    let text: string;
    let etag: string | undefined;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.keyFor(keyring) }));
      if ((out.ContentLength ?? 0) > MAX_DOCUMENT_BYTES) throw new BackendError(`key-use log of keyring '${keyring}' is larger than ${MAX_DOCUMENT_BYTES} bytes`, { retryable: false });
      text = (await out.Body?.transformToString('utf8')) ?? '';
      etag = out.ETag;
    } catch (err) {
      if (isAwsNotFound(err)) return undefined;
      throw mapAwsError(err, { resource: `key-use log of keyring '${keyring}'` });
    }
    if (etag === undefined) throw new BackendError('S3 GetObject returned no ETag', { retryable: false });
    return { doc: parseDocument(keyring, text), etag };
  }

  private keyFor(keyring: string): string {
    assertKeyringName(keyring);
    return `${this.prefix}${keyring}.json`;
  }
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

function isIso(v: unknown): v is string {
  return typeof v === 'string' && ISO.test(v) && !Number.isNaN(Date.parse(v));
}

/** Validates a stored document; a corrupt one is a BackendError (never silently an empty log, which would read as silence). */
function parseDocument(keyring: string, text: string): KeyUseDocument {
  const corrupt = (why: string): BackendError => new BackendError(`key-use log of keyring '${keyring}' is corrupt: ${why}`, { retryable: false });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw corrupt('not JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw corrupt('not an object');
  const doc = json as Record<string, unknown>;
  if (doc['keyring'] !== keyring) throw corrupt('names another keyring');
  if (!isIso(doc['observingSince'])) throw corrupt('observingSince is not an ISO time');
  const versions = doc['versions'];
  if (typeof versions !== 'object' || versions === null || Array.isArray(versions)) throw corrupt('versions is not an object');
  const out: Record<string, { at: string; by?: string }> = {};
  for (const [v, use] of Object.entries(versions as Record<string, unknown>)) {
    if (!/^[1-9]\d{0,6}$/.test(v)) throw corrupt(`version '${v.slice(0, 16)}' is not a positive integer`);
    const u = use as { at?: unknown; by?: unknown } | null;
    if (typeof u !== 'object' || u === null || !isIso(u.at)) throw corrupt(`version ${v} has no valid time`);
    if (u.by !== undefined && typeof u.by !== 'string') throw corrupt(`version ${v} has an invalid principal`);
    out[v] = { at: u.at, ...(typeof u.by === 'string' ? { by: u.by } : {}) };
  }
  return { keyring, observingSince: doc['observingSince'], versions: out };
}
