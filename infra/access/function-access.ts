/**
 * What the functions' code paths call, as IAM actions: one list per store and access level,
 * each action next to the calls that need it, so that a grant in the stack can be read against
 * the adapter it serves (shared/adapters/aws/*). Action names and their resource types are
 * those of the Service Authorization Reference ("Actions, resources, and condition keys for
 * Amazon S3", "... for Amazon CloudWatch", "... for AWS Key Management Service").
 */
import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { FunctionName } from '../defaults';
import type { ResolvedRekeyConfig, ResolvedRecordTarget } from '../props';

/**
 * The functions that create version keys. None needs the key's plaintext: KeyringService asks
 * the vault for the wrapped form only (KmsKeyVault.generateWrappedKey, i.e.
 * kms:GenerateDataKeyWithoutPlaintext), for
 * - rotate: the next version (forced or due);
 * - grace-period: a `create-pending` the reconciler plans when a rotation is due;
 * - revoke: the replacement version of a revocation, and a `create-pending` its closing tick may plan;
 * - provision: version 1 of a keyring created on deploy.
 */
export const VERSION_CREATORS: readonly FunctionName[] = ['rotate', 'grace-period', 'revoke', 'provision'];

/** S3 actions on catalog objects (S3CatalogStore get/put; history and getVersion run in no function). */
export function catalogActions(access: 'read' | 'write'): { objects: string[]; bucket: string[] } {
  return {
    // get → GetObject without VersionId; put → PutObject with If-Match / If-None-Match.
    objects: access === 'write' ? ['s3:GetObject', 's3:PutObject'] : ['s3:GetObject'],
    // list → ListObjectsV2; ListBucket also makes a missing catalog a 404 instead of a 403.
    bucket: ['s3:ListBucket'],
  };
}

/**
 * S3 actions on record targets, for the S3RecordStore calls of the function code paths: the
 * Sweeper (reencrypt worker through ItemRecordView, revoke's inline sweep) uses get, put,
 * scanByVersion and countByVersion; grace-period counts (countByVersion).
 *
 * - get / HeadObject (headRef, scan and count): s3:GetObject, never with a VersionId;
 * - put (conditional PutObject): s3:PutObject;
 * - ListObjectsV2 (listPage): s3:ListBucket, which also turns a vanished record into a 404.
 *
 * - getHeader and putHeaders, body layout (S3RecordStore.rewrapObject: ranged GETs with If-Match,
 *   a conditional PutObject below the multipart threshold; above it CreateMultipartUpload,
 *   UploadPart, UploadPartCopy of the same object and CompleteMultipartUpload with If-Match):
 *   s3:GetObject and s3:PutObject; a failed rewrite aborts its upload (s3:AbortMultipartUpload,
 *   granted on record targets by allowRecordTargets) rather than leave it to the lifecycle rule;
 * - getHeader and putHeaders, metadata layout (HeadObject, then CopyObject of the object onto
 *   itself with If-Match, or UploadPartCopy ranges): the same s3:GetObject (source) and
 *   s3:PutObject (destination). The copy keeps the object's tags (TaggingDirective COPY), so the
 *   writers of every target (any target may hold metadata-layout objects: an application may
 *   write them, and a target switched back to the body layout keeps them) also get
 *   s3:GetObjectTagging and s3:PutObjectTagging on its objects, lest a tagged record fail its copy.
 *
 * delete is on no function's path: wiring it in needs s3:DeleteObject added here.
 */
export function recordTargetActions(access: 'read' | 'write'): { objects: string[]; bucket: string[]; bucketKey: string[] } {
  return {
    objects: access === 'write' ? ['s3:GetObject', 's3:PutObject'] : ['s3:GetObject'],
    bucket: ['s3:ListBucket'],
    // SSE-KMS with a customer key: GETs decrypt, PUTs generate a data key.
    bucketKey: access === 'write' ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'],
  };
}

/**
 * S3 actions on the escrow bucket (S3EscrowStore).
 *
 * - get: GetObject; when the current version is a delete marker, ListObjectVersions
 *   (s3:ListBucketVersions) and GetObject with the newest version's VersionId (s3:GetObjectVersion);
 * - list (the drill): ListObjectsV2 (s3:ListBucket, also the 404 of a missing record);
 * - put (archive): PutObject with If-None-Match and an Object Lock retain-until date, which
 *   needs s3:PutObjectRetention besides s3:PutObject.
 */
export function escrowActions(access: 'read' | 'write'): { objects: string[]; bucket: string[] } {
  const read = ['s3:GetObject', 's3:GetObjectVersion'];
  return {
    objects: access === 'write' ? [...read, 's3:PutObject', 's3:PutObjectRetention'] : read,
    bucket: ['s3:ListBucket', 's3:ListBucketVersions'],
  };
}

/**
 * Lets the circuit breaker read its facts (CloudWatchBreakerFacts: GetMetricData over the
 * `Rekey` namespace). cloudwatch:GetMetricData has no resource type and no condition key in the
 * Service Authorization Reference ("Actions, resources, and condition keys for Amazon
 * CloudWatch"), so the statement's resource must be "*"; it reads metrics, it changes nothing.
 */
export function allowBreakerFacts(role: iam.IRole): void {
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }));
}

/**
 * Lets `role` read (or read and write) the records of every target: objects under the target
 * prefix, listing limited to it, and the bucket's customer key through S3 only.
 */
export function allowRecordTargets(role: iam.IRole, recordTargets: readonly ResolvedRecordTarget[], access: 'read' | 'write'): void {
  const actions = recordTargetActions(access);
  for (const t of recordTargets) {
    const bucketArn = `arn:${Aws.PARTITION}:s3:::${t.bucket}`;
    // A header rewrite above the multipart threshold aborts its upload when it fails (records only).
    const objects = access === 'write' ? [...actions.objects, 's3:AbortMultipartUpload', 's3:GetObjectTagging', 's3:PutObjectTagging'] : actions.objects;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: objects, resources: [`${bucketArn}/${t.prefix}*`] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: actions.bucket, resources: [bucketArn], conditions: { StringLike: { 's3:prefix': [`${t.prefix}*`] } } }));
    if (t.bucketKmsKeyArn !== undefined) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: actions.bucketKey, resources: [t.bucketKmsKeyArn], conditions: { StringEquals: { 'kms:ViaService': `s3.${Aws.REGION}.amazonaws.com` } } }),
      );
    }
  }
}

/**
 * Lets the revocation delete the noncurrent object versions that still hold a data key of a
 * revoked version, once the current object is re-encrypted past it
 * (shared/adapters/aws/s3-exposed-copies.ts: ListObjectVersions, HEAD and DELETE with a
 * versionId; actions s3:ListBucketVersions, s3:GetObjectVersion, s3:DeleteObjectVersion,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html and
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html). Only the revoke role
 * gets it: routine sweeps never delete a version.
 */
export function allowExposedCopyPurge(role: iam.IRole, recordTargets: readonly ResolvedRecordTarget[]): void {
  for (const t of recordTargets) {
    const bucketArn = `arn:${Aws.PARTITION}:s3:::${t.bucket}`;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObjectVersion', 's3:DeleteObjectVersion'], resources: [`${bucketArn}/${t.prefix}*`] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucketVersions'], resources: [bucketArn], conditions: { StringLike: { 's3:prefix': [`${t.prefix}*`] } } }));
  }
}

/**
 * Lets `role` find the cache (the Redis client's endpoint discovery, shared/adapters/redis: Describe on the replication
 * group or serverless cache) and, with IAM authentication, connect as the cache user.
 */
export function allowCache(role: iam.IRole, cache: NonNullable<ResolvedRekeyConfig['cache']>): void {
  const arn = (resource: string): string => `arn:${Aws.PARTITION}:elasticache:${Aws.REGION}:${Aws.ACCOUNT_ID}:${resource}`;
  const caches = [arn(`replicationgroup:${cache.name}`), arn(`serverlesscache:${cache.name}`)];
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['elasticache:DescribeReplicationGroups', 'elasticache:DescribeServerlessCaches'], resources: caches }));
  if (cache.iamUser !== undefined) {
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['elasticache:Connect'], resources: [...caches, arn(`user:${cache.iamUser}`)] }));
  }
}

/**
 * Lets the escrow function put a version restored from escrow back into the catalog
 * (`escrow restore`): kms:Encrypt of the escrowed version key under the keyring's key, with
 * exactly the version context `{ keyring, version }` (EscrowService.rewrapFromEscrow →
 * KmsKeyVault.wrap; Encrypt, https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html;
 * condition keys kms:EncryptionContext:<key> and kms:EncryptionContextKeys,
 * https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html). Encrypt returns
 * ciphertext only: the role learns nothing it did not already hold (it opened the escrow copy
 * with the escrow key), and decrypting stays with the per-version grants.
 */
export function allowEscrowRestore(key: iam.IResourceWithPolicy, keyring: string, role: iam.IRole): void {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'RestoreVersionKeysFromEscrow',
      principals: [role],
      actions: ['kms:Encrypt'],
      resources: ['*'],
      conditions: {
        StringEquals: { 'kms:EncryptionContext:keyring': keyring },
        'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['keyring', 'version'] },
        Null: { 'kms:EncryptionContext:version': 'false' },
      },
    }),
  );
}
