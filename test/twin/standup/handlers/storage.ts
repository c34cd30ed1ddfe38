/**
 * KMS keys and aliases, S3 buckets and bucket policies: created on moto (which keeps the state
 * and honours versioning and Object Lock) and recorded in the world with what moto ignores
 * (key policies, bucket policies, default SSE-KMS key, EventBridge notifications). Property
 * names from the CloudFormation Template Reference pages AWS::KMS::Key, AWS::KMS::Alias,
 * AWS::S3::Bucket (VersioningConfiguration, ObjectLockConfiguration, BucketEncryption,
 * NotificationConfiguration.EventBridgeConfiguration) and AWS::S3::BucketPolicy.
 */
import { CreateAliasCommand, CreateKeyCommand, DeleteAliasCommand, DisableKeyCommand, EnableKeyCommand, EnableKeyRotationCommand, PutKeyPolicyCommand, ScheduleKeyDeletionCommand, UpdateAliasCommand, UpdateKeyDescriptionCommand } from '@aws-sdk/client-kms';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketVersioningCommand,
  PutObjectLockConfigurationCommand,
  PutPublicAccessBlockCommand,
  type ServerSideEncryptionRule,
} from '@aws-sdk/client-s3';
import type { TwinBucket } from '../../world';
import { generatedName } from '../names';
import type { ResourceHandler } from '../types';
import { optList, optNumber, optObject, optString, policyDocument, reqString } from './util';

const kmsKey: ResourceHandler = {
  async apply(ctx) {
    const p = ctx.properties;
    const policy = policyDocument(p['KeyPolicy'], `${ctx.logicalId} KeyPolicy`);
    const policyJson = JSON.stringify(policy);
    let keyId = ctx.previous?.physicalId;
    let arn = ctx.previous?.attributes['Arn'] as string | undefined;
    if (keyId === undefined) {
      const out = await ctx.aws.kms.send(
        new CreateKeyCommand({
          Description: optString(p, 'Description'),
          KeyUsage: optString(p, 'KeyUsage') as 'ENCRYPT_DECRYPT' | undefined,
          KeySpec: optString(p, 'KeySpec') as 'SYMMETRIC_DEFAULT' | undefined,
          MultiRegion: p['MultiRegion'] === true,
          Policy: policyJson,
        }),
      );
      keyId = out.KeyMetadata?.KeyId ?? '';
      arn = out.KeyMetadata?.Arn ?? '';
    } else {
      await ctx.aws.kms.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: optString(p, 'Description') ?? '' }));
    }
    // CreateKey's Policy is kept by moto too, but PutKeyPolicy is what a key policy update is: same call both ways.
    await ctx.aws.kms.send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default', Policy: policyJson }));
    if (p['EnableKeyRotation'] === true) await ctx.aws.kms.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: optNumber(p, 'RotationPeriodInDays') }));
    await ctx.aws.kms.send(p['Enabled'] === false ? new DisableKeyCommand({ KeyId: keyId }) : new EnableKeyCommand({ KeyId: keyId }));
    if (arn === undefined) throw new Error(`${ctx.logicalId}: no key ARN`);
    ctx.world.keys.set(arn, { logicalId: ctx.logicalId, keyId, arn, policy });
    return { physicalId: keyId, attributes: { Arn: arn, KeyId: keyId } };
  },
  async remove(ctx, previous) {
    await ctx.aws.kms.send(new ScheduleKeyDeletionCommand({ KeyId: previous.physicalId, PendingWindowInDays: optNumber(previous.properties, 'PendingWindowInDays') ?? 30 }));
    ctx.world.keys.delete(String(previous.attributes['Arn']));
  },
};

const kmsAlias: ResourceHandler = {
  async apply(ctx) {
    const name = reqString(ctx, 'AliasName');
    const target = reqString(ctx, 'TargetKeyId');
    await ctx.aws.kms.send(ctx.previous === undefined ? new CreateAliasCommand({ AliasName: name, TargetKeyId: target }) : new UpdateAliasCommand({ AliasName: name, TargetKeyId: target }));
    ctx.extras.aliases.set(name, target);
    return { physicalId: name, attributes: {} };
  },
  async remove(ctx, previous) {
    await ctx.aws.kms.send(new DeleteAliasCommand({ AliasName: previous.physicalId }));
    ctx.extras.aliases.delete(previous.physicalId);
  },
};

function defaultRetention(p: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined {
  return optObject(optObject(optObject(p, 'ObjectLockConfiguration') ?? {}, 'Rule') ?? {}, 'DefaultRetention');
}

function objectLockOf(p: Readonly<Record<string, unknown>>): TwinBucket['objectLock'] {
  const rule = defaultRetention(p);
  if (rule === undefined) return undefined;
  const mode = optString(rule, 'Mode');
  if (mode !== 'COMPLIANCE' && mode !== 'GOVERNANCE') throw new Error(`ObjectLock DefaultRetention Mode ${String(mode)}`);
  const days = optNumber(rule, 'Days') ?? (optNumber(rule, 'Years') ?? 0) * 365;
  return { mode, days };
}

const s3Bucket: ResourceHandler = {
  async apply(ctx) {
    const p = ctx.properties;
    const name = ctx.previous?.physicalId ?? optString(p, 'BucketName') ?? generatedName(ctx.stackName, ctx.logicalId, { max: 63, lowerCase: true });
    const lockEnabled = p['ObjectLockEnabled'] === true;
    const s3 = ctx.aws.s3;
    if (ctx.previous === undefined) await s3.send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: lockEnabled }));
    const versioning = optString(optObject(p, 'VersioningConfiguration') ?? {}, 'Status');
    if (versioning !== undefined) await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: versioning as 'Enabled' | 'Suspended' } }));
    const objectLock = objectLockOf(p);
    const retention = defaultRetention(p);
    if (objectLock !== undefined && retention !== undefined) {
      const period = optNumber(retention, 'Years') !== undefined ? { Years: optNumber(retention, 'Years') } : { Days: objectLock.days };
      await s3.send(new PutObjectLockConfigurationCommand({ Bucket: name, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: objectLock.mode, ...period } } } }));
    }
    const rules = optList(optObject(p, 'BucketEncryption') ?? {}, 'ServerSideEncryptionConfiguration') as Record<string, unknown>[];
    let kmsKeyArn: string | undefined;
    if (rules.length > 0) {
      const byDefault = optObject(rules[0] ?? {}, 'ServerSideEncryptionByDefault') ?? {};
      const keyRef = optString(byDefault, 'KMSMasterKeyID');
      if (keyRef !== undefined) kmsKeyArn = ctx.world.key(keyRef)?.arn ?? keyRef;
      // CloudFormation's ServerSideEncryptionByDefault is the S3 API's ApplyServerSideEncryptionByDefault.
      const apiRules = rules.map((r) => ({ ApplyServerSideEncryptionByDefault: optObject(r, 'ServerSideEncryptionByDefault'), BucketKeyEnabled: r['BucketKeyEnabled'] })) as ServerSideEncryptionRule[];
      await s3.send(new PutBucketEncryptionCommand({ Bucket: name, ServerSideEncryptionConfiguration: { Rules: apiRules } }));
    }
    const pab = optObject(p, 'PublicAccessBlockConfiguration');
    if (pab !== undefined) await s3.send(new PutPublicAccessBlockCommand({ Bucket: name, PublicAccessBlockConfiguration: pab }));
    const eb = optObject(optObject(p, 'NotificationConfiguration') ?? {}, 'EventBridgeConfiguration');
    const arn = `arn:${ctx.world.partition}:s3:::${name}`;
    const existing = ctx.world.buckets.get(name);
    ctx.world.buckets.set(name, {
      logicalId: ctx.logicalId,
      name,
      arn,
      // An Object Lock bucket is always versioned (S3 User Guide, "Configuring S3 Object Lock").
      versioning: versioning === 'Enabled' || lockEnabled,
      ...(objectLock === undefined ? {} : { objectLock }),
      ...(existing?.policy === undefined ? {} : { policy: existing.policy }),
      ...(kmsKeyArn === undefined ? {} : { kmsKeyArn }),
      // EventBridgeEnabled defaults to true when EventBridgeConfiguration is present.
      eventBridge: eb !== undefined && eb['EventBridgeEnabled'] !== false,
    });
    const region = ctx.world.region;
    return {
      physicalId: name,
      attributes: {
        Arn: arn,
        DomainName: `${name}.s3.amazonaws.com`,
        RegionalDomainName: `${name}.s3.${region}.amazonaws.com`,
        DualStackDomainName: `${name}.s3.dualstack.${region}.amazonaws.com`,
        WebsiteURL: `http://${name}.s3-website-${region}.amazonaws.com`,
      },
    };
  },
  async remove(ctx, previous) {
    await ctx.aws.s3.send(new DeleteBucketCommand({ Bucket: previous.physicalId }));
    ctx.world.buckets.delete(previous.physicalId);
  },
};

const s3BucketPolicy: ResourceHandler = {
  async apply(ctx) {
    const bucket = reqString(ctx, 'Bucket');
    const doc = policyDocument(ctx.properties['PolicyDocument'], `${ctx.logicalId} PolicyDocument`);
    // Kept in the world only (derived.ts): moto evaluates bucket-policy denies on its own, and as it
    // sees the proxy's plain-HTTP hop, every enforceSSL bucket would refuse everyone. The proxy's
    // authorizer is the one policy engine of the twin.
    void bucket;
    void doc;
    return { physicalId: ctx.previous?.physicalId ?? `${ctx.stackName}-${ctx.logicalId}`, attributes: {} };
  },
  async remove(ctx, previous) {
    const b = ctx.world.buckets.get(String(previous.properties['Bucket']));
    if (b !== undefined) delete b.policy;
  },
};

/** Handlers by resource type. */
export const STORAGE_HANDLERS: Readonly<Record<string, ResourceHandler>> = {
  'AWS::KMS::Key': kmsKey,
  'AWS::KMS::Alias': kmsAlias,
  'AWS::S3::Bucket': s3Bucket,
  'AWS::S3::BucketPolicy': s3BucketPolicy,
};
