/**
 * Building blocks of rekey's KMS key policies. Every key names each principal that may use it.
 * Key *administration* (PutKeyPolicy, ScheduleKeyDeletion, DisableKey, ...) belongs to the
 * deploying role (the CloudFormation execution role of the CDK bootstrap) and, when configured,
 * one named break-glass role; the account root is trusted with read-only key metadata only
 * (describe, list, get policy), so an IAM policy in the account can grant neither a
 * cryptographic operation nor an administrative one on a rekey key. What a principal that can
 * deploy the stack (or change the execution role) can still do is in docs/deploy.md, "Who can
 * still read a revoked version, and why".
 *
 * The key policy lockout safety check (CreateKey / PutKeyPolicy `BypassPolicyLockoutSafetyCheck`,
 * AWS KMS API Reference, https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html):
 * the policy must let the principal making the request make a later PutKeyPolicy. CloudFormation
 * creates and updates the keys as the execution role, which {@link KEY_ADMIN_ACTIONS} includes,
 * so both pass the check without bypassing it.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';

/**
 * Key management actions (no Encrypt, Decrypt, GenerateDataKey, ReEncrypt or CreateGrant), for
 * the deploying role and the break-glass role only: they keep the key manageable (and
 * CloudFormation able to update its policy) without being able to read anything it protects.
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

/** Read-only key metadata the account (its IAM policies) may still be granted: inventory and reviews. */
export const KEY_METADATA_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListAliases',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListResourceTags',
] as const;

/** Who administers the stack's keys. */
export interface KeyAdministrators {
  /** ARNs of the roles allowed {@link KEY_ADMIN_ACTIONS}: the deploying role, then the break-glass role if any. */
  readonly roleArns: readonly string[];
}

/**
 * Creates a symmetric key with yearly rotation, retained on stack deletion, administered by
 * `admins` only (the account keeps read-only metadata).
 */
export function createManagedKey(scope: Construct, id: string, description: string, admins: KeyAdministrators): kms.Key {
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
          principals: admins.roleArns.map((arn) => new iam.ArnPrincipal(arn)),
          actions: [...KEY_ADMIN_ACTIONS],
          resources: ['*'],
        }),
        new iam.PolicyStatement({
          sid: 'KeyMetadataForAccount',
          principals: [new iam.AccountRootPrincipal()],
          actions: [...KEY_METADATA_ACTIONS],
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
