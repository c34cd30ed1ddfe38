/**
 * Building blocks of rekey's KMS key policies. Every key names each principal that may use it;
 * the account root is trusted with key *administration* only, never with cryptographic
 * operations, so no IAM policy anywhere in the account can grant Decrypt on a rekey key.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';

/**
 * Key management actions (no Encrypt, Decrypt, GenerateDataKey, ReEncrypt or CreateGrant):
 * administrators keep the key manageable (and CloudFormation able to update its policy)
 * without being able to read anything it protects.
 */
export const KEY_ADMIN_ACTIONS = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListAliases',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:RevokeGrant',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
] as const;

/** Creates a symmetric key with yearly rotation, retained on stack deletion, administered by the account. */
export function createManagedKey(scope: Construct, id: string, description: string): kms.Key {
  return new kms.Key(scope, id, {
    description,
    enableKeyRotation: true,
    rotationPeriod: Duration.days(365),
    pendingWindow: Duration.days(30),
    removalPolicy: RemovalPolicy.RETAIN,
    policy: new iam.PolicyDocument({
      statements: [
        new iam.PolicyStatement({
          sid: 'KeyAdministrationOnly',
          principals: [new iam.AccountRootPrincipal()],
          actions: [...KEY_ADMIN_ACTIONS],
          resources: ['*'],
        }),
      ],
    }),
  });
}

/**
 * A key-policy statement letting `principals` use a bucket key only through S3 (SSE-KMS).
 * `actions` are the minimum: Decrypt to read, GenerateDataKey to write. Each such key encrypts
 * one bucket only, so the S3 condition is as narrow as a bucket-ARN condition, without the
 * key → bucket → key reference cycle that one would create.
 */
export function viaS3Statement(sid: string, principals: iam.IPrincipal[], actions: readonly string[], region: string): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid,
    principals,
    actions: [...actions],
    resources: ['*'],
    conditions: { StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } },
  });
}
