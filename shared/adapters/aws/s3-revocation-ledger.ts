/**
 * RevocationLedger on S3 Object Lock: one object per revoked version, `<prefix><keyring>/<version>.json`,
 * in the stack's Object Lock bucket (the escrow bucket, under its own prefix). A mark is
 *
 * - created once: PutObject with `If-None-Match: *`, so the first mark of a version wins and a
 *   second one is answered 412 Precondition Failed, which is "already marked", not a failure
 *   (Amazon S3 User Guide, "How to prevent object overwrites with conditional writes",
 *   https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html);
 * - locked in COMPLIANCE mode until `at + retentionDays` (PutObject `ObjectLockMode` and
 *   `ObjectLockRetainUntilDate`): no principal, the account root included, can delete or
 *   overwrite that object version before then;
 * - encrypted with the bucket's default key (the escrow key, through S3 only): a mark holds no
 *   secret, but the escrow key's administration (ScheduleKeyDeletion, PutKeyPolicy) is limited
 *   to the deploying and break-glass roles and alarmed, so nobody else can make marks unreadable;
 *   an unreadable ledger fails every catalog read (closed), it never hides a mark.
 *
 * `revoked(keyring)` lists object *versions* (ListObjectVersions), not current objects: a
 * DELETE without a version id only adds a delete marker (Object Lock allows that), and a marker
 * hides a key from ListObjectsV2 but not from the version listing, so a hidden mark still counts.
 * Of several versions of one key (someone with PutObject overwrote it) the oldest is the mark.
 */
import { GetObjectCommand, ListObjectVersionsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BackendError, ValidationError } from '../../errors';
import type { RevocationLedger, RevocationMark } from '../../ports/revocation-ledger';
import { assertKeyringName } from '../../vocabulary/keyring-name';
import { versionNumber } from '../../vocabulary/names';
import { awsErrorCode, awsErrorStatus, mapAwsError } from './map-aws-error';

/** Options of {@link S3RevocationLedger}. */
export interface S3RevocationLedgerOptions {
  readonly client: S3Client;
  /** A bucket created with Object Lock enabled (hence versioned). */
  readonly bucket: string;
  /** Key prefix of the marks. @default 'revocations/' */
  readonly prefix?: string;
  /**
   * Days each mark stays locked in COMPLIANCE mode. A mark must outlive every copy of an
   * envelope under the revoked version (backups, replicas). @default 3650
   */
  readonly retentionDays?: number;
}

/** Largest mark read back: a keyring, a version, a reason of at most 1000 characters, an ARN. */
const MAX_MARK_BYTES = 16 * 1024;
const DAY_MS = 86_400_000;
const MAX_TEXT = 2048;

/**
 * The revocation ledger of a deployed stack.
 *
 * @example
 * const ledger = new S3RevocationLedger({ client: s3, bucket: config.escrowBucket });
 * await ledger.mark({ keyring: 'pii', version: 3, at: now.toISOString(), reason: 'SEC-42', actor: 'arn:aws:iam::1:role/sec' });
 * (await ledger.revoked('pii')).has(3); // true, for at least ten years, whatever the catalog says
 */
export class S3RevocationLedger implements RevocationLedger {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly retentionDays: number;

  public constructor(options: S3RevocationLedgerOptions) {
    if (typeof options.bucket !== 'string' || options.bucket.length === 0) throw new ValidationError('bucket is required');
    const days = options.retentionDays ?? 3650;
    if (!Number.isInteger(days) || days < 1 || days > 36_500) throw new ValidationError('retentionDays must be an integer from 1 to 36500');
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? 'revocations/';
    this.retentionDays = days;
  }

  /** Writes the mark unless the version is marked already (then nothing changes). */
  public async mark(mark: RevocationMark): Promise<void> {
    const checked = checkMark(mark);
    const key = this.keyFor(checked.keyring, checked.version);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: JSON.stringify(checked),
          ContentType: 'application/json',
          IfNoneMatch: '*',
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: new Date(Date.parse(checked.at) + this.retentionDays * DAY_MS),
          ChecksumAlgorithm: 'SHA256',
        }),
      );
    } catch (err) {
      // 412: the version is marked already; the first mark stands, and that is what was asked.
      if (awsErrorCode(err) === 'PreconditionFailed' || awsErrorStatus(err) === 412) return;
      throw mapAwsError(err, { resource: `revocation mark of keyring '${checked.keyring}' version ${checked.version}` });
    }
  }

  /** Every marked version of `keyring`, each with its first mark. */
  public async revoked(keyring: string): Promise<ReadonlyMap<number, RevocationMark>> {
    assertKeyringName(keyring);
    const prefix = `${this.prefix}${keyring}/`;
    // Oldest version id of each marked key (the first write; later ones could only be overwrites).
    const oldest = new Map<number, { id: string; at: number }>();
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    for (;;) {
      let page;
      try {
        page = await this.client.send(new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
      } catch (err) {
        throw mapAwsError(err, { resource: `revocation marks of keyring '${keyring}'` });
      }
      for (const v of page.Versions ?? []) {
        const m = /^(\d{1,9})\.json$/.exec((v.Key ?? '').slice(prefix.length));
        const version = Number(m?.[1]);
        if (m === null || !versionNumber.safeParse(version).success || v.VersionId === undefined) continue;
        const at = v.LastModified?.getTime() ?? 0;
        const seen = oldest.get(version);
        // S3 lists a key's versions newest first: on equal times the later entry is the older one.
        if (seen === undefined || at <= seen.at) oldest.set(version, { id: v.VersionId, at });
      }
      if (page.IsTruncated !== true) break;
      keyMarker = page.NextKeyMarker;
      versionIdMarker = page.NextVersionIdMarker;
    }
    const marks = new Map<number, RevocationMark>();
    for (const [version, { id, at }] of [...oldest].sort((a, b) => a[0] - b[0])) {
      marks.set(version, await this.read(keyring, version, id, new Date(at)));
    }
    return marks;
  }

  /**
   * Reads one mark. A body that does not parse still marks the version (the object exists,
   * locked, under that key); its fields then come from the listing: fail closed.
   */
  private async read(keyring: string, version: number, versionId: string, listedAt: Date): Promise<RevocationMark> {
    const key = this.keyFor(keyring, version);
    let text: string;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }));
      if ((out.ContentLength ?? 0) > MAX_MARK_BYTES) throw new BackendError(`revocation mark of keyring '${keyring}' version ${version} is too large`);
      text = (await out.Body?.transformToString('utf8')) ?? '';
    } catch (err) {
      if (err instanceof BackendError) throw err;
      throw mapAwsError(err, { resource: `revocation mark of keyring '${keyring}' version ${version}` });
    }
    const fallback: RevocationMark = { keyring, version, at: listedAt.toISOString(), reason: 'revoked (ledger mark)', actor: 'unknown' };
    try {
      const parsed = checkMark(JSON.parse(text) as RevocationMark);
      return parsed.keyring === keyring && parsed.version === version ? parsed : fallback;
    } catch {
      return fallback;
    }
  }

  private keyFor(keyring: string, version: number): string {
    return `${this.prefix}${keyring}/${version}.json`;
  }
}

/** A mark with every field checked (a bad one is refused before anything is written). */
function checkMark(mark: RevocationMark): RevocationMark {
  if (typeof mark !== 'object' || mark === null) throw new ValidationError('a revocation mark is an object');
  assertKeyringName(mark.keyring);
  if (!versionNumber.safeParse(mark.version).success) throw new ValidationError('version must be a positive integer');
  if (typeof mark.at !== 'string' || Number.isNaN(Date.parse(mark.at))) throw new ValidationError('at must be an ISO-8601 time');
  for (const [field, value] of [
    ['reason', mark.reason],
    ['actor', mark.actor],
  ] as const) {
    if (typeof value !== 'string' || value.trim().length === 0 || value.length > MAX_TEXT) throw new ValidationError(`${field} must be 1 to ${MAX_TEXT} characters`);
  }
  return { keyring: mark.keyring, version: mark.version, at: new Date(Date.parse(mark.at)).toISOString(), reason: mark.reason, actor: mark.actor };
}
