/**
 * EscrowStore on S3 with Object Lock: each record `<prefix><keyring>/<version>.json` is created
 * once (`If-None-Match: *`), locked in COMPLIANCE mode until now + retention (nobody, root
 * included, can delete or overwrite that object version before then), and stored with a
 * SHA-256 checksum that S3 verifies on upload and the SDK verifies again on download.
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
import { AlreadyExistsError, ValidationError } from '../../errors';
import { parseEscrowRecord, serializeEscrowRecord, MAX_ESCROW_RECORD_BYTES, type EscrowRecord } from '../../escrow/escrow-record';
import type { EscrowStore } from '../../ports/escrow-store';
import { assertKeyringName } from '../../vocabulary/keyring-name';
import { versionNumber } from '../../vocabulary/names';
import { awsErrorCode, awsErrorStatus, isAwsNotFound, mapAwsError } from './map-aws-error';

/** Options of {@link S3EscrowStore}. */
export interface S3EscrowStoreOptions {
  /** A bucket created with Object Lock enabled (and therefore versioned). */
  readonly bucket: string;
  /** Key prefix of records. @default 'escrow/' */
  readonly prefix?: string;
  /**
   * Days each record stays locked. Required, without default: a COMPLIANCE lock cannot be
   * shortened by anyone, so the length is a deliberate choice (at least the backup retention).
   */
  readonly retentionDays: number;
  /** Lock mode; GOVERNANCE lets holders of s3:BypassGovernanceRetention delete (test accounts). @default 'COMPLIANCE' */
  readonly lockMode?: 'COMPLIANCE' | 'GOVERNANCE';
  readonly client?: S3Client;
  readonly clientConfig?: S3ClientConfig;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

const DAY_MS = 86_400_000;

/**
 * {@link EscrowStore} over an S3 Object Lock bucket.
 *
 * @example
 * const store = new S3EscrowStore({ bucket: 'rekey-escrow', retentionDays: 3650 });
 * await store.put(record); // AlreadyExistsError when (keyring, version) is already escrowed
 */
export class S3EscrowStore implements EscrowStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly retentionDays: number;
  private readonly lockMode: 'COMPLIANCE' | 'GOVERNANCE';
  private readonly clock: () => Date;

  public constructor(options: S3EscrowStoreOptions) {
    if (typeof options.bucket !== 'string' || options.bucket.length === 0) throw new ValidationError('bucket is required');
    if (!Number.isInteger(options.retentionDays) || options.retentionDays < 1 || options.retentionDays > 36_500) {
      throw new ValidationError('retentionDays must be an integer from 1 to 36500');
    }
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? 'escrow/';
    this.retentionDays = options.retentionDays;
    this.lockMode = options.lockMode ?? 'COMPLIANCE';
    this.client = options.client ?? newSdkClient(S3Client, { ...options.clientConfig }, FUNCTION_SDK_TIMEOUTS);
    this.clock = options.clock ?? (() => new Date());
  }

  /** Creates the record, locked; AlreadyExistsError when one exists. */
  public async put(record: EscrowRecord): Promise<void> {
    const body = serializeEscrowRecord(record);
    const key = this.keyFor(record.keyring, record.version);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: 'application/json',
          IfNoneMatch: '*',
          ObjectLockMode: this.lockMode,
          ObjectLockRetainUntilDate: new Date(this.clock().getTime() + this.retentionDays * DAY_MS),
          ChecksumAlgorithm: 'SHA256',
        }),
      );
    } catch (err) {
      // 412: a record exists. A 409 (a concurrent write of the same key in flight) stays a
      // retryable ConflictError: the other write may still fail, so nothing is known to exist.
      if (awsErrorCode(err) === 'PreconditionFailed' || awsErrorStatus(err) === 412) {
        throw new AlreadyExistsError(`keyring '${record.keyring}' version ${record.version} is already escrowed`);
      }
      throw mapAwsError(err, { resource: `escrow record of keyring '${record.keyring}' version ${record.version}` });
    }
  }

  /**
   * Reads a record. When the current version of the key is a delete marker (someone deleted
   * without naming a version, which Object Lock allows), the newest locked version is read
   * instead: a delete marker hides a record but cannot destroy it.
   */
  public async get(keyring: string, version: number): Promise<EscrowRecord | undefined> {
    const key = this.keyFor(keyring, version);
    const what = `escrow record of keyring '${keyring}' version ${version}`;
    let bytes = await this.read(key, undefined, what);
    if (bytes === undefined) {
      const versionId = await this.newestLiveVersion(key, what);
      if (versionId === undefined) return undefined;
      bytes = await this.read(key, versionId, what);
      if (bytes === undefined) return undefined;
    }
    return parseEscrowRecord(bytes, keyring, version);
  }

  /** Versions of a keyring with a record, ascending. */
  public async list(keyring: string): Promise<number[]> {
    const prefix = `${this.prefix}${this.checkKeyring(keyring)}/`;
    const versions = new Set<number>();
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      } catch (err) {
        throw mapAwsError(err, { resource: `escrow records of keyring '${keyring}'` });
      }
      for (const obj of page.Contents ?? []) {
        const m = /^(\d{1,7})\.json$/.exec((obj.Key ?? '').slice(prefix.length));
        if (m?.[1] !== undefined && versionNumber.safeParse(Number(m[1])).success) versions.add(Number(m[1]));
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return [...versions].sort((a, b) => a - b);
  }

  private async read(key: string, versionId: string | undefined, what: string): Promise<Buffer | undefined> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId, ChecksumMode: 'ENABLED' }),
      );
      if ((out.ContentLength ?? 0) > MAX_ESCROW_RECORD_BYTES) return Buffer.alloc(MAX_ESCROW_RECORD_BYTES + 1);
      return Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
    } catch (err) {
      if (isAwsNotFound(err)) return undefined;
      throw mapAwsError(err, { resource: what });
    }
  }

  private async newestLiveVersion(key: string, what: string): Promise<string | undefined> {
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    let newest: { id: string; at: number } | undefined;
    for (;;) {
      let page;
      try {
        page = await this.client.send(
          new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: key, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }),
        );
      } catch (err) {
        throw mapAwsError(err, { resource: what });
      }
      for (const v of page.Versions ?? []) {
        if (v.Key !== key || v.VersionId === undefined) continue;
        const at = v.LastModified?.getTime() ?? 0;
        if (newest === undefined || at > newest.at) newest = { id: v.VersionId, at };
      }
      if (page.IsTruncated !== true) return newest?.id;
      keyMarker = page.NextKeyMarker;
      versionIdMarker = page.NextVersionIdMarker;
    }
  }

  private keyFor(keyring: string, version: number): string {
    if (!versionNumber.safeParse(version).success) throw new ValidationError('version must be a positive integer');
    return `${this.prefix}${this.checkKeyring(keyring)}/${version}.json`;
  }

  private checkKeyring(keyring: string): string {
    assertKeyringName(keyring);
    return keyring;
  }
}
