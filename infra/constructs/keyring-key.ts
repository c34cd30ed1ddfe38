/**
 * The KMS key of one keyring and its separation of duties. Version keys of the keyring are KMS
 * data keys bound to the encryption context `{ keyring, version }`; this construct decides who
 * may do what with them:
 *
 * - the roles that create versions (rotate, the reconcilers, keyring provisioning) generate new
 *   version keys in wrapped form only (GenerateDataKeyWithoutPlaintext): they never receive key
 *   material and can decrypt nothing with this policy statement;
 * - the re-encryption roles decrypt any version of this keyring, revoked ones included
 *   (an emergency re-encryption must read what it replaces);
 * - every other reader (application roles, the escrow function) holds no key-policy permission
 *   to decrypt at all: it decrypts one version through a KMS grant whose constraint is exactly
 *   `{ keyring, version }`. The key-access function creates those grants for readable versions
 *   and revokes them when a version is revoked, disabled or destroyed, so revocation is enforced
 *   by KMS, below the library, for every client; it may only create Decrypt grants for the
 *   listed grantees with this keyring's context, and can decrypt nothing itself;
 * - administrators (the deploying role and the break-glass role, constructs/key-policy.ts) manage
 *   the key and use nothing; the account keeps read-only metadata.
 */
import { Aws, Lazy, Names, Tags } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { Sensitivity } from '../props';
import { createManagedKey, type KeyAdministrators } from './key-policy';

/** Props of {@link KeyringKey}. */
export interface KeyringKeyProps {
  /** The keyring name (bound into every encryption context). */
  readonly keyring: string;
  /** Tagged on the key for inventory and access reviews. */
  readonly sensitivity: Sensitivity;
  /** Who administers the key (PutKeyPolicy, ScheduleKeyDeletion, DisableKey, ...). */
  readonly administrators: KeyAdministrators;
}

/**
 * The `kms:GranteePrincipal` pattern of every IAM role of `account` (in the stack's partition).
 *
 * @example
 * consumerRolePattern('111122223333'); // 'arn:${Partition}:iam::111122223333:role/*'
 */
export function consumerRolePattern(account: string): string {
  return `arn:${Aws.PARTITION}:iam::${account}:role/*`;
}

/** Encryption-context keys rekey binds to every version key; nothing else is accepted. */
export const VERSION_CONTEXT_KEYS = ['keyring', 'version'] as const;

/**
 * A keyring's KMS key with its key policy.
 *
 * @example
 * const pii = new KeyringKey(this, 'Pii', { keyring: 'pii', sensitivity: 'high', administrators: { roleArns: [deployRoleArn] } });
 * pii.allowVersionGeneration(rotateRole);
 * pii.addGrantee(appRole.roleArn); // decrypts through per-version grants
 */
export class KeyringKey extends Construct {
  /** The KMS key wrapping this keyring's version keys. */
  public readonly key: kms.Key;
  /** The keyring name. */
  public readonly keyring: string;
  private readonly grantees: string[] = [];
  private readonly consumerPatterns: string[] = [];

  public constructor(scope: Construct, id: string, props: KeyringKeyProps) {
    super(scope, id);
    this.keyring = props.keyring;
    this.key = createManagedKey(this, 'Key', `rekey: wraps the version keys of keyring ${props.keyring}`, props.administrators);
    Tags.of(this.key).add('rekey:keyring', props.keyring);
    Tags.of(this.key).add('rekey:sensitivity', props.sensitivity);
  }

  /** Role ARNs that read versions of this keyring through per-version grants. */
  public get granteeArns(): readonly string[] {
    return [...this.grantees];
  }

  /**
   * Lets `role` generate new version keys with this keyring's context, wrapped only
   * (kms:GenerateDataKeyWithoutPlaintext: the response carries no plaintext, so the role never
   * holds key material through this statement).
   */
  public allowVersionGeneration(role: iam.IRole): void {
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: `GenerateVersionKeys${this.sidSuffix(role)}`,
        principals: [role],
        actions: ['kms:GenerateDataKeyWithoutPlaintext'],
        resources: ['*'],
        conditions: this.versionContextConditions(),
      }),
    );
  }

  /** Lets `role` decrypt every version of this keyring, revoked ones included (re-encryption). */
  public allowReencryption(role: iam.IRole): void {
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: `ReencryptAnyVersion${this.sidSuffix(role)}`,
        principals: [role],
        actions: ['kms:Decrypt'],
        resources: ['*'],
        conditions: this.versionContextConditions(),
      }),
    );
  }

  /**
   * Lets `role` maintain the per-version grants: create Decrypt-only grants for the registered
   * grantees, constrained to this keyring's context; list and revoke grants.
   */
  public allowGrantManagement(role: iam.IRole): void {
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CreateVersionGrants',
        principals: [role],
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        conditions: {
          'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Decrypt'], 'kms:EncryptionContextKeys': [...VERSION_CONTEXT_KEYS] },
          StringEquals: { 'kms:GrantConstraintType': 'EncryptionContextEquals', 'kms:EncryptionContext:keyring': this.keyring },
          // StringLike: the deploy-time grantees exactly (a role ARN holds no wildcard), and any
          // role of a consumer account (the registry's bound, enforced again by key-access).
          StringLike: { 'kms:GranteePrincipal': Lazy.list({ produce: () => this.granteePatterns() }, { omitEmpty: false }) },
          Bool: { 'kms:GrantIsForAWSResource': 'false' },
        },
      }),
    );
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'MaintainVersionGrants',
        principals: [role],
        actions: ['kms:ListGrants', 'kms:RevokeGrant'],
        resources: ['*'],
      }),
    );
  }

  /**
   * Registers a role that decrypts versions of this keyring through per-version grants (the
   * key-access function creates them). The role gets no key-policy permission of its own.
   */
  public addGrantee(roleArn: string): void {
    if (!this.grantees.includes(roleArn)) this.grantees.push(roleArn);
  }

  /**
   * Lets the grant reconciler also create this keyring's per-version grants for any IAM role of
   * these accounts (consumers registered at run time with `rekey consumers add`): each account
   * becomes the `kms:GranteePrincipal` pattern `arn:<partition>:iam::<account>:role/*`.
   */
  public admitConsumerAccounts(accounts: readonly string[]): void {
    for (const account of accounts) {
      const pattern = consumerRolePattern(account);
      if (!this.consumerPatterns.includes(pattern)) this.consumerPatterns.push(pattern);
    }
  }

  /** The grantee ARNs and patterns the CreateGrant statement admits. */
  public granteePatterns(): string[] {
    return [...this.grantees, ...this.consumerPatterns];
  }

  private versionContextConditions(): Record<string, unknown> {
    return {
      StringEquals: { 'kms:EncryptionContext:keyring': this.keyring },
      'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': [...VERSION_CONTEXT_KEYS] },
      Null: { 'kms:EncryptionContext:version': 'false' },
    };
  }

  private sidSuffix(role: iam.IRole): string {
    // Sids must be unique within the policy; the role's path is unique within the app.
    return Names.uniqueId(role).slice(-64);
  }
}
