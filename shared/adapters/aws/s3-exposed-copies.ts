/**
 * Old copies of record objects under a revoked key: on a versioned bucket every overwrite (a
 * re-encryption included) keeps the previous object as a noncurrent version, and a noncurrent
 * version whose data key the revoked version wrapped still opens with that version's key. This
 * module finds them (ListObjectVersions, then a HEAD of each noncurrent version for its origin)
 * and deletes them (DeleteObject with the VersionId) once the current object has been
 * re-encrypted past the revoked version, so the data stays readable through the current object;
 * whatever it may not delete it reports, copy by copy.
 *
 * API shapes:
 * - ListObjectVersions: https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
 *   (Versions[] and DeleteMarkers[] with Key, VersionId, IsLatest; paging by KeyMarker and
 *   VersionIdMarker from NextKeyMarker / NextVersionIdMarker while IsTruncated).
 * - HeadObject with versionId: https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
 *   (user metadata as `Metadata`; needs s3:GetObjectVersion).
 * - DeleteObject with versionId: https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html
 *   (permanently removes that version; needs s3:DeleteObjectVersion).
 * - Delete markers: https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeleteMarker.html
 */
import { DeleteObjectCommand, HeadObjectCommand, ListObjectVersionsCommand, type S3Client } from '@aws-sdk/client-s3';
import { MAX_REPORTED_COPIES, type CopyPurgeReport, type RemainingCopy, type RemainingCopyReason } from '../../ports/record-store';
import { isAwsNotFound, mapAwsError } from './map-aws-error';
import { KEYRING_METADATA, originFromMetadata } from './s3-record-object';

/** Where to look, and whether deleting is allowed. */
export interface CopiesTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  /** False: report every exposed copy as `not-configured`, delete nothing. */
  readonly mayDelete: boolean;
}

/** One key's versions, as listed. */
interface KeyVersions {
  latest?: { versionId: string; deleteMarker: boolean };
  noncurrent: string[];
}

/** Copy id reported when the versions of the prefix could not even be listed. */
export const UNLISTED_COPY_ID = '*';

function isAccessDenied(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'AccessDenied' || e.Code === 'AccessDenied' || e.$metadata?.httpStatusCode === 403;
}

/**
 * Deletes (or reports) every noncurrent version under `target.prefix` whose data key was
 * created at or before `version` of `keyring`. A copy is deleted only when the current object
 * is itself past the revoked version (origin > version), so the data remains readable; copies of
 * a record still exposed, of a deleted record (a delete marker is current), or that this role
 * may not read or delete are reported with the reason. Idempotent: a copy already deleted is
 * simply not listed again.
 *
 * @example
 * const report = await purgeExposedCopies({ client, bucket: 'app-data', prefix: 'orders/', mayDelete: true }, 'orders', 3);
 * report.remaining; // [{ id: 'o-1', copyId: '3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY', reason: 'access-denied' }]
 */
export async function purgeExposedCopies(target: CopiesTarget, keyring: string, version: number): Promise<CopyPurgeReport> {
  const remaining: RemainingCopy[] = [];
  let remainingCount = 0;
  let deleted = 0;
  const keep = (id: string, copyId: string, reason: RemainingCopyReason): void => {
    remainingCount += 1;
    if (remaining.length < MAX_REPORTED_COPIES) remaining.push({ id, copyId, reason });
  };

  let keys: Map<string, KeyVersions>;
  try {
    keys = await listVersions(target);
  } catch (err) {
    if (!isAccessDenied(err)) throw mapAwsError(err, { resource: `s3://${target.bucket}/${target.prefix}` });
    // Nothing can be said copy by copy: report the prefix itself as unknown.
    keep(target.prefix, UNLISTED_COPY_ID, 'access-denied');
    return { deleted, remaining, remainingCount };
  }

  for (const [key, versions] of keys) {
    if (versions.noncurrent.length === 0) continue;
    const id = key.slice(target.prefix.length);
    const current = versions.latest;
    // The current object's state decides whether its old versions may go.
    let currentClean = false;
    let currentDenied = false;
    if (current !== undefined && !current.deleteMarker) {
      const head = await headVersion(target, key, current.versionId);
      if (head === 'denied') currentDenied = true;
      else if (head !== undefined && head.keyring === keyring) currentClean = head.origin > version;
      // Another keyring's record (or no rekey record): its copies are not this revocation's.
      else if (head !== undefined) continue;
    }
    for (const versionId of versions.noncurrent) {
      const head = await headVersion(target, key, versionId);
      if (head === undefined) continue;
      if (head === 'denied') {
        keep(id, versionId, 'access-denied');
        continue;
      }
      if (head.keyring !== keyring || head.origin > version) continue;
      if (current === undefined || current.deleteMarker) keep(id, versionId, 'record-deleted');
      else if (currentDenied) keep(id, versionId, 'access-denied');
      else if (!currentClean) keep(id, versionId, 'current-not-reencrypted');
      else if (!target.mayDelete) keep(id, versionId, 'not-configured');
      else if (await deleteVersion(target, key, versionId)) deleted += 1;
      else keep(id, versionId, 'access-denied');
    }
  }
  return { deleted, remaining, remainingCount };
}

async function listVersions(target: CopiesTarget): Promise<Map<string, KeyVersions>> {
  const keys = new Map<string, KeyVersions>();
  const entry = (key: string): KeyVersions => {
    let e = keys.get(key);
    if (e === undefined) {
      e = { noncurrent: [] };
      keys.set(key, e);
    }
    return e;
  };
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (;;) {
    const out = await target.client.send(
      new ListObjectVersionsCommand({ Bucket: target.bucket, Prefix: target.prefix, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker, MaxKeys: 1000 }),
    );
    for (const v of out.Versions ?? []) {
      if (v.Key === undefined || v.Key.length <= target.prefix.length || v.VersionId === undefined) continue;
      if (v.IsLatest === true) entry(v.Key).latest = { versionId: v.VersionId, deleteMarker: false };
      else entry(v.Key).noncurrent.push(v.VersionId);
    }
    for (const m of out.DeleteMarkers ?? []) {
      if (m.Key === undefined || m.VersionId === undefined || m.IsLatest !== true) continue;
      entry(m.Key).latest = { versionId: m.VersionId, deleteMarker: true };
    }
    if (out.IsTruncated !== true) return keys;
    keyMarker = out.NextKeyMarker;
    versionIdMarker = out.NextVersionIdMarker;
    if (keyMarker === undefined) return keys;
  }
}

async function headVersion(target: CopiesTarget, key: string, versionId: string): Promise<{ keyring: string | undefined; origin: number } | 'denied' | undefined> {
  try {
    const out = await target.client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: key, VersionId: versionId }));
    return { keyring: out.Metadata?.[KEYRING_METADATA], origin: originFromMetadata(out.Metadata) };
  } catch (err) {
    if (isAwsNotFound(err)) return undefined;
    if (isAccessDenied(err)) return 'denied';
    throw mapAwsError(err, { resource: `s3://${target.bucket}/${key}` });
  }
}

async function deleteVersion(target: CopiesTarget, key: string, versionId: string): Promise<boolean> {
  try {
    await target.client.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: key, VersionId: versionId }));
    return true;
  } catch (err) {
    if (isAccessDenied(err)) return false;
    throw mapAwsError(err, { resource: `s3://${target.bucket}/${key}` });
  }
}
