/**
 * The consumer registry's side of the stack: what lets key-access turn `consumers/<keyring>.json`
 * (written by `rekey consumers add`) into KMS grants without a redeploy, and what bounds it.
 *
 * - key-access gets the bound (REKEY_CONSUMER_ACCOUNTS, REKEY_OPS_KEY_ARN) and reads the
 *   registry objects (GetObject and ListBucket under `consumers/`);
 * - each keyring key's CreateVersionGrants statement admits any role of a consumer account
 *   (constructs/keyring-key.ts);
 * - the ops key and the escrow key let key-access create Decrypt grants constrained to
 *   `EncryptionContextEquals {"aws:s3:arn": <bucket ARN>}` for roles of those accounts, and list
 *   and revoke grants. Both buckets use S3 Bucket Keys, so S3 passes the bucket ARN as the
 *   encryption context ("Reducing the cost of SSE-KMS with Amazon S3 Bucket Keys", Amazon S3 User
 *   Guide: "the bucket ARN is used as the encryption context"). The key policy cannot name the
 *   bucket's ARN (each bucket names its key: a key → bucket → key cycle, see key-policy.ts), so
 *   it admits only an S3 ARN there and the key-access role's own policy denies every grant
 *   whose constraint is not the exact bucket ARN (an explicit deny wins over the key policy);
 * - the catalog and escrow buckets admit consumer accounts other than the stack's own (each
 *   account still needs identity policies and a registry entry).
 *
 * Built in the construct's scope (see storage.ts for why).
 */
import { Aws, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { CONSUMER_ACCOUNTS_ENV, OPS_KEY_ARN_ENV } from '../../shared/config/env-names';
import type { KeyringKey } from '../constructs/keyring-key';
import { consumerRolePattern } from '../constructs/keyring-key';
import type { RekeyFunction } from '../constructs/rekey-function';
import type { ResolvedRekeyConfig } from '../props';
import { REVOCATION_LEDGER_PREFIX, type RekeyStorage } from './storage';

/** The encryption context key S3 passes to KMS for an SSE-KMS object. */
export const S3_ARN_CONTEXT_KEY = 'aws:s3:arn';

/** What the registry's permissions are built from. */
export interface ConsumerRegistryAccessProps {
  readonly config: ResolvedRekeyConfig;
  readonly storage: RekeyStorage;
  readonly keyrings: ReadonlyMap<string, KeyringKey>;
  readonly keyAccess: RekeyFunction;
}

/**
 * The consumer accounts of a configuration: the configured ones, else the stack's own.
 *
 * @example
 * consumerAccountsOf(scope, config); // ['111122223333'] or [Aws.ACCOUNT_ID] (a token)
 */
export function consumerAccountsOf(scope: Construct, config: ResolvedRekeyConfig): readonly string[] {
  return config.consumerAccounts ?? [Stack.of(scope).account];
}

/**
 * Wires the consumer registry (see the module comment).
 *
 * @example
 * const registry = new ConsumerRegistryAccess(rekey, { config, storage, keyrings, keyAccess: fns['key-access'] });
 * registry.accounts; // what REKEY_CONSUMER_ACCOUNTS holds
 */
export class ConsumerRegistryAccess {
  /** The accounts whose roles the registry may name (tokens in an environment-agnostic stack). */
  public readonly accounts: readonly string[];

  public constructor(scope: Construct, props: ConsumerRegistryAccessProps) {
    const { config, storage, keyrings, keyAccess } = props;
    const stack = Stack.of(scope);
    this.accounts = consumerAccountsOf(scope, config);
    keyAccess.fn.addEnvironment(CONSUMER_ACCOUNTS_ENV, stack.toJsonString(this.accounts));
    keyAccess.fn.addEnvironment(OPS_KEY_ARN_ENV, storage.opsKey.keyArn);
    storage.grantRegistryRead(keyAccess.role);
    for (const key of keyrings.values()) key.admitConsumerAccounts(this.accounts);

    const patterns = this.accounts.map(consumerRolePattern);
    allowBucketReadGrants(storage.opsKey, storage.catalogBucket.bucketArn, keyAccess.role, patterns, 'Catalog');
    allowBucketReadGrants(storage.escrowKey, storage.escrowBucket.bucketArn, keyAccess.role, patterns, 'Ledger');

    // Resource side for the other accounts only: a role of the stack's own account needs nothing here.
    const own = stack.account;
    for (const account of this.accounts) {
      if (Token.isUnresolved(account) || (!Token.isUnresolved(own) && account === own)) continue;
      const principal = new iam.AccountPrincipal(account);
      storage.catalogBucket.addToResourcePolicy(
        new iam.PolicyStatement({ sid: `ConsumerCatalog${account}`, principals: [principal], actions: ['s3:GetObject'], resources: [storage.catalogBucket.arnForObjects(`${config.catalogPrefix}*`)] }),
      );
      storage.escrowBucket.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: `ConsumerLedgerMarks${account}`,
          principals: [principal],
          actions: ['s3:GetObjectVersion'],
          resources: [storage.escrowBucket.arnForObjects(`${REVOCATION_LEDGER_PREFIX}*`)],
        }),
      );
      storage.escrowBucket.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: `ConsumerLedgerList${account}`,
          principals: [principal],
          actions: ['s3:ListBucketVersions'],
          resources: [storage.escrowBucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': [`${REVOCATION_LEDGER_PREFIX}*`] } },
        }),
      );
    }
  }
}

/**
 * Lets `role` create, on `key`, Decrypt grants whose only constraint is the S3 context of
 * `bucketArn`, for roles matching `patterns`; and list and revoke grants.
 */
function allowBucketReadGrants(key: kms.Key, bucketArn: string, role: iam.IRole, patterns: readonly string[], label: string): void {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: `Create${label}ReadGrants`,
      principals: [role],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: {
        'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Decrypt'], 'kms:EncryptionContextKeys': [S3_ARN_CONTEXT_KEY] },
        StringEquals: { 'kms:GrantConstraintType': 'EncryptionContextEquals' },
        StringLike: { 'kms:GranteePrincipal': [...patterns], [`kms:EncryptionContext:${S3_ARN_CONTEXT_KEY}`]: `arn:${Aws.PARTITION}:s3:::*` },
        Bool: { 'kms:GrantIsForAWSResource': 'false' },
      },
    }),
  );
  key.addToResourcePolicy(new iam.PolicyStatement({ sid: `Maintain${label}ReadGrants`, principals: [role], actions: ['kms:ListGrants', 'kms:RevokeGrant'], resources: ['*'] }));
  // The exact bucket, on the side that may name it (see the module comment).
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: `Only${label}BucketGrants`,
      effect: iam.Effect.DENY,
      actions: ['kms:CreateGrant'],
      resources: [key.keyArn],
      conditions: { StringNotEquals: { [`kms:EncryptionContext:${S3_ARN_CONTEXT_KEY}`]: bucketArn } },
    }),
  );
}
