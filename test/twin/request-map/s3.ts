/**
 * S3 REST-XML (path-style: `/<bucket>/<key>`) → operation, IAM actions, resources and condition keys.
 *
 * Actions and condition keys: "Actions, resources, and condition keys for Amazon S3" (Service
 * Authorization Reference) and "Required permissions for Amazon S3 API operations" (S3 User Guide):
 * HeadObject needs s3:GetObject; a VersionId turns GetObject into s3:GetObjectVersion and
 * DeleteObject into s3:DeleteObjectVersion; ListObjects[V2] is s3:ListBucket (condition keys
 * s3:prefix, s3:delimiter, s3:max-keys); ListObjectVersions is s3:ListBucketVersions; every
 * multipart step but Abort and ListParts is s3:PutObject; CopyObject / UploadPartCopy need read
 * access to the source and s3:PutObject on the target.
 */
import type { RequestContext } from '../authz/types';
import type { TwinBucket } from '../world';
import { type AuthzCheck, type MapContext, type MappedOperation, type RawHttpRequest } from './common';

/** Bucket sub-resources: query parameter → [GET, PUT, DELETE] operation and its IAM action. */
const BUCKET_SUBRESOURCES: Readonly<Record<string, readonly [string, string][]>> = {
  versioning: [['GetBucketVersioning', 's3:GetBucketVersioning'], ['PutBucketVersioning', 's3:PutBucketVersioning']],
  'object-lock': [['GetObjectLockConfiguration', 's3:GetBucketObjectLockConfiguration'], ['PutObjectLockConfiguration', 's3:PutBucketObjectLockConfiguration']],
  policy: [['GetBucketPolicy', 's3:GetBucketPolicy'], ['PutBucketPolicy', 's3:PutBucketPolicy'], ['DeleteBucketPolicy', 's3:DeleteBucketPolicy']],
  encryption: [['GetBucketEncryption', 's3:GetEncryptionConfiguration'], ['PutBucketEncryption', 's3:PutEncryptionConfiguration'], ['DeleteBucketEncryption', 's3:PutEncryptionConfiguration']],
  notification: [['GetBucketNotificationConfiguration', 's3:GetBucketNotification'], ['PutBucketNotificationConfiguration', 's3:PutBucketNotification']],
  tagging: [['GetBucketTagging', 's3:GetBucketTagging'], ['PutBucketTagging', 's3:PutBucketTagging'], ['DeleteBucketTagging', 's3:PutBucketTagging']],
  lifecycle: [['GetBucketLifecycleConfiguration', 's3:GetLifecycleConfiguration'], ['PutBucketLifecycleConfiguration', 's3:PutLifecycleConfiguration'], ['DeleteBucketLifecycle', 's3:PutLifecycleConfiguration']],
  location: [['GetBucketLocation', 's3:GetBucketLocation']],
  uploads: [['ListMultipartUploads', 's3:ListBucketMultipartUploads']],
  acl: [['GetBucketAcl', 's3:GetBucketAcl'], ['PutBucketAcl', 's3:PutBucketAcl']],
  publicAccessBlock: [['GetPublicAccessBlock', 's3:GetBucketPublicAccessBlock'], ['PutPublicAccessBlock', 's3:PutBucketPublicAccessBlock'], ['DeletePublicAccessBlock', 's3:PutBucketPublicAccessBlock']],
  ownershipControls: [['GetBucketOwnershipControls', 's3:GetBucketOwnershipControls'], ['PutBucketOwnershipControls', 's3:PutBucketOwnershipControls']],
};

/** Object sub-resources: query parameter → [GET, PUT] operation and its IAM action (versioned variant when a versionId is given). */
const OBJECT_SUBRESOURCES: Readonly<Record<string, readonly [string, string, string][]>> = {
  retention: [['GetObjectRetention', 's3:GetObjectRetention', 's3:GetObjectRetention'], ['PutObjectRetention', 's3:PutObjectRetention', 's3:PutObjectRetention']],
  'legal-hold': [['GetObjectLegalHold', 's3:GetObjectLegalHold', 's3:GetObjectLegalHold'], ['PutObjectLegalHold', 's3:PutObjectLegalHold', 's3:PutObjectLegalHold']],
  tagging: [['GetObjectTagging', 's3:GetObjectTagging', 's3:GetObjectVersionTagging'], ['PutObjectTagging', 's3:PutObjectTagging', 's3:PutObjectVersionTagging']],
  acl: [['GetObjectAcl', 's3:GetObjectAcl', 's3:GetObjectVersionAcl'], ['PutObjectAcl', 's3:PutObjectAcl', 's3:PutObjectVersionAcl']],
};

/** Decodes a path-style S3 path into bucket and key (the SDK percent-encodes each key segment). */
export function s3Location(path: string): { bucket?: string; key?: string } {
  const rest = path.replace(/^\/+/, '');
  if (rest === '') return {};
  const slash = rest.indexOf('/');
  if (slash < 0) return { bucket: decodeURIComponent(rest) };
  const key = rest.slice(slash + 1);
  return { bucket: decodeURIComponent(rest.slice(0, slash)), ...(key === '' ? {} : { key: decodeURIComponent(key) }) };
}

/** Parses `x-amz-copy-source` (`bucket/key?versionId=v`, URL-encoded, optional leading `/`). */
export function copySource(header: string): { bucket: string; key: string; versionId?: string } | undefined {
  const [path = '', query = ''] = header.replace(/^\/+/, '').split('?');
  const loc = s3Location(`/${path}`);
  if (loc.bucket === undefined || loc.key === undefined) return undefined;
  const versionId = new URLSearchParams(query).get('versionId') ?? undefined;
  return { bucket: loc.bucket, key: loc.key, ...(versionId === undefined ? {} : { versionId }) };
}

const objectArn = (ctx: MapContext, bucket: string, key: string): string => `arn:${ctx.world.partition}:s3:::${bucket}/${key}`;
const bucketArn = (ctx: MapContext, bucket: string): string => `arn:${ctx.world.partition}:s3:::${bucket}`;

/** Unescapes the five XML entities (S3 request bodies are plain XML). */
function xmlText(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

function xmlField(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m?.[1] === undefined ? undefined : xmlText(m[1]);
}

/**
 * The calls S3 makes to KMS as the caller for an SSE-KMS bucket. "Using server-side encryption
 * with AWS KMS keys (SSE-KMS)" (S3 User Guide): uploads need kms:GenerateDataKey, downloads
 * kms:Decrypt; CreateMultipartUpload (S3 API Reference, Permissions) needs kms:GenerateDataKey and
 * UploadPart / UploadPartCopy kms:Decrypt. S3 sends kms:ViaService = s3.<region>.amazonaws.com
 * ("kms:ViaService", AWS KMS Developer Guide); with an S3 Bucket Key the encryption context is the
 * bucket ARN, not the object ARN ("Configuring your bucket to use an S3 Bucket Key with SSE-KMS
 * for new objects", https://docs.aws.amazon.com/AmazonS3/latest/userguide/configuring-bucket-key.html).
 */
function viaS3(ctx: MapContext, bucket: TwinBucket | undefined, action: 'kms:Decrypt' | 'kms:GenerateDataKey', keyArn?: string): AuthzCheck[] {
  const key = keyArn ?? bucket?.kmsKeyArn;
  if (bucket === undefined || key === undefined) return [];
  const context: RequestContext = {
    ...ctx.global,
    'kms:ViaService': `s3.${ctx.region}.amazonaws.com`,
    'kms:CallerAccount': ctx.account,
    'kms:EncryptionContext:aws:s3:arn': bucket.arn,
    'kms:EncryptionContextKeys': ['aws:s3:arn'],
  };
  return [{ action, resource: ctx.world.key(key)?.arn ?? key, context }];
}

/** The key a write names explicitly (`x-amz-server-side-encryption-aws-kms-key-id`), else the bucket default. */
function writeKey(raw: RawHttpRequest, bucket: TwinBucket | undefined): string | undefined {
  if (raw.headers['x-amz-server-side-encryption'] === 'aws:kms') return raw.headers['x-amz-server-side-encryption-aws-kms-key-id'] ?? bucket?.kmsKeyArn;
  return bucket?.kmsKeyArn;
}

/** Condition keys a PutObject / CopyObject / CreateMultipartUpload request carries in its headers. */
function writeContext(ctx: MapContext, raw: RawHttpRequest): RequestContext {
  const h = raw.headers;
  const pairs: [string, string | undefined][] = [
    ['s3:x-amz-server-side-encryption', h['x-amz-server-side-encryption']],
    ['s3:x-amz-server-side-encryption-aws-kms-key-id', h['x-amz-server-side-encryption-aws-kms-key-id']],
    ['s3:object-lock-mode', h['x-amz-object-lock-mode']],
    ['s3:object-lock-retain-until-date', h['x-amz-object-lock-retain-until-date']],
    ['s3:object-lock-legal-hold', h['x-amz-object-lock-legal-hold']],
    ['s3:if-match', h['if-match']],
    ['s3:if-none-match', h['if-none-match']],
    ['s3:x-amz-copy-source', h['x-amz-copy-source']],
  ];
  const out: Record<string, string | readonly string[] | boolean | number> = { ...ctx.global };
  for (const [k, v] of pairs) if (v !== undefined) out[k] = v;
  return out;
}

/** Maps one S3 request. */
export function mapS3(ctx: MapContext, raw: RawHttpRequest): MappedOperation {
  const q = new URLSearchParams(raw.query);
  const { bucket, key } = s3Location(raw.path);
  const method = raw.method.toUpperCase();
  const g = ctx.global;
  if (bucket === undefined) return { operation: 'ListBuckets', params: {}, checks: [{ action: 's3:ListAllMyBuckets', resource: '*', context: g }] };
  const world = ctx.world.buckets.get(bucket);
  const bArn = bucketArn(ctx, bucket);
  const versionId = q.get('versionId') ?? undefined;
  const params: Record<string, unknown> = { Bucket: bucket, ...(key === undefined ? {} : { Key: key }), ...(versionId === undefined ? {} : { VersionId: versionId }) };
  const withVersion = (c: RequestContext): RequestContext => (versionId === undefined ? c : { ...c, 's3:versionid': versionId });
  const one = (operation: string, action: string, resource: string, context: RequestContext = g): MappedOperation => ({ operation, params, checks: [{ action, resource, context }] });

  if (key === undefined) {
    for (const [sub, ops] of Object.entries(BUCKET_SUBRESOURCES)) {
      if (!q.has(sub)) continue;
      const op = ops[method === 'GET' ? 0 : method === 'PUT' ? 1 : method === 'DELETE' ? 2 : -1];
      if (op !== undefined) return one(op[0], op[1], bArn);
    }
    const listContext = (): RequestContext => {
      const c: Record<string, string | readonly string[] | boolean | number> = { ...g };
      for (const [param, ck] of [['prefix', 's3:prefix'], ['delimiter', 's3:delimiter'], ['max-keys', 's3:max-keys']] as const) {
        const v = q.get(param);
        if (v !== null) c[ck] = param === 'max-keys' ? Number(v) : v;
      }
      return c;
    };
    if (method === 'GET' && q.has('versions')) return { ...one('ListObjectVersions', 's3:ListBucketVersions', bArn, listContext()), params: { ...params, Prefix: q.get('prefix') ?? undefined } };
    if (method === 'GET') {
      const operation = q.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
      return { ...one(operation, 's3:ListBucket', bArn, listContext()), params: { ...params, Prefix: q.get('prefix') ?? undefined } };
    }
    if (method === 'HEAD') return one('HeadBucket', 's3:ListBucket', bArn);
    if (method === 'PUT') return one('CreateBucket', 's3:CreateBucket', bArn);
    if (method === 'DELETE') return one('DeleteBucket', 's3:DeleteBucket', bArn);
    if (method === 'POST' && q.has('delete')) {
      // DeleteObjects: one s3:DeleteObject[Version] per key ("DeleteObjects", S3 API Reference).
      const xml = raw.body.toString('utf8');
      const checks: AuthzCheck[] = [];
      for (const m of xml.matchAll(/<Object>([\s\S]*?)<\/Object>/g)) {
        const k = xmlField(m[1] ?? '', 'Key');
        const v = xmlField(m[1] ?? '', 'VersionId');
        if (k === undefined) continue;
        checks.push({ action: v === undefined ? 's3:DeleteObject' : 's3:DeleteObjectVersion', resource: objectArn(ctx, bucket, k), context: v === undefined ? g : { ...g, 's3:versionid': v } });
      }
      return { operation: 'DeleteObjects', params, checks };
    }
    return one(`${method} bucket`, 's3:Unknown', bArn);
  }

  const oArn = objectArn(ctx, bucket, key);
  for (const [sub, ops] of Object.entries(OBJECT_SUBRESOURCES)) {
    if (!q.has(sub)) continue;
    const op = ops[method === 'GET' ? 0 : method === 'PUT' ? 1 : -1];
    if (op === undefined) continue;
    const mapped = one(op[0], versionId === undefined ? op[1] : op[2], oArn, withVersion(g));
    if (op[0] === 'PutObjectRetention') {
      const xml = raw.body.toString('utf8');
      const mode = xmlField(xml, 'Mode');
      const until = xmlField(xml, 'RetainUntilDate');
      const context = { ...withVersion(g), ...(mode === undefined ? {} : { 's3:object-lock-mode': mode }), ...(until === undefined ? {} : { 's3:object-lock-retain-until-date': until }) };
      const checks: AuthzCheck[] = [{ action: 's3:PutObjectRetention', resource: oArn, context }];
      if (raw.headers['x-amz-bypass-governance-retention'] === 'true') checks.push({ action: 's3:BypassGovernanceRetention', resource: oArn, context });
      return { operation: op[0], params: { ...params, Mode: mode, RetainUntilDate: until }, checks };
    }
    return mapped;
  }

  const uploadId = q.get('uploadId') ?? undefined;
  if (uploadId !== undefined) params['UploadId'] = uploadId;
  if (method === 'GET' || method === 'HEAD') {
    if (method === 'GET' && uploadId !== undefined) return one('ListParts', 's3:ListMultipartUploadParts', oArn);
    const action = versionId === undefined ? 's3:GetObject' : 's3:GetObjectVersion';
    const operation = method === 'GET' ? 'GetObject' : 'HeadObject';
    // HeadObject returns metadata only: S3 decrypts nothing, so it makes no KMS call.
    const kms = method === 'GET' ? viaS3(ctx, world, 'kms:Decrypt') : [];
    return { operation, params, checks: [{ action, resource: oArn, context: withVersion(g) }, ...kms] };
  }
  if (method === 'DELETE') {
    if (uploadId !== undefined) return one('AbortMultipartUpload', 's3:AbortMultipartUpload', oArn);
    const checks: AuthzCheck[] = [{ action: versionId === undefined ? 's3:DeleteObject' : 's3:DeleteObjectVersion', resource: oArn, context: withVersion(g) }];
    if (raw.headers['x-amz-bypass-governance-retention'] === 'true') checks.push({ action: 's3:BypassGovernanceRetention', resource: oArn, context: withVersion(g) });
    return { operation: versionId === undefined ? 'DeleteObject' : 'DeleteObjectVersion', params, checks };
  }
  if (method === 'POST') {
    if (q.has('uploads')) {
      return { operation: 'CreateMultipartUpload', params, checks: [{ action: 's3:PutObject', resource: oArn, context: writeContext(ctx, raw) }, ...viaS3(ctx, world, 'kms:GenerateDataKey', writeKey(raw, world))] };
    }
    if (uploadId !== undefined) return one('CompleteMultipartUpload', 's3:PutObject', oArn, writeContext(ctx, raw));
    return one('POST object', 's3:Unknown', oArn);
  }
  if (method === 'PUT') {
    const sourceHeader = raw.headers['x-amz-copy-source'];
    const source = sourceHeader === undefined ? undefined : copySource(sourceHeader);
    const partNumber = q.get('partNumber') ?? undefined;
    const sourceChecks: AuthzCheck[] =
      source === undefined
        ? []
        : [
            {
              action: source.versionId === undefined ? 's3:GetObject' : 's3:GetObjectVersion',
              resource: objectArn(ctx, source.bucket, source.key),
              context: source.versionId === undefined ? g : { ...g, 's3:versionid': source.versionId },
            },
            ...viaS3(ctx, ctx.world.buckets.get(source.bucket), 'kms:Decrypt'),
          ];
    const sourceParams = source === undefined ? {} : { CopySource: source };
    if (uploadId !== undefined && partNumber !== undefined) {
      const operation = source === undefined ? 'UploadPart' : 'UploadPartCopy';
      const checks: AuthzCheck[] = [...sourceChecks, { action: 's3:PutObject', resource: oArn, context: g }, ...viaS3(ctx, world, 'kms:Decrypt')];
      return { operation, params: { ...params, PartNumber: Number(partNumber), ...sourceParams }, checks };
    }
    const write: AuthzCheck[] = [{ action: 's3:PutObject', resource: oArn, context: writeContext(ctx, raw) }, ...viaS3(ctx, world, 'kms:GenerateDataKey', writeKey(raw, world))];
    return { operation: source === undefined ? 'PutObject' : 'CopyObject', params: { ...params, ...sourceParams }, checks: [...sourceChecks, ...write] };
  }
  return one(`${method} object`, 's3:Unknown', oArn);
}
