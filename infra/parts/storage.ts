/**
 * Storage of the rekey stack: the access-log bucket, the catalog bucket and its ops key, the
 * Object Lock escrow bucket and its escrow key, and the grants on them (each grant names the
 * store calls it serves in access/function-access.ts).
 *
 * Like every part under infra/parts/, it builds directly in the stack's scope rather than in a
 * construct of its own: a nested construct would change the logical id of every resource
 * below it, and CloudFormation would replace the buckets and keys of a deployed stack.
 */
import { Aws, Duration, Names } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { CONSUMER_REGISTRY_PREFIX } from '../../shared/vocabulary/consumer-registry';
import { CENSUS_MARK_EXPIRY_DAYS, CENSUS_PREFIX, SWEEP_RESULTS_PREFIX } from '../../shared/vocabulary/record-census';
import { catalogActions, escrowActions } from '../access/function-access';
import { createManagedKey, viaS3Statement, type KeyAdministrators } from '../constructs/key-policy';
import { secureBucketProps } from '../defaults';
import type { ResolvedRekeyConfig } from '../props';

/** Prefix of sweep reports (Distributed Map results) in the catalog bucket. */
export const SWEEP_REPORT_PREFIX = SWEEP_RESULTS_PREFIX;

/**
 * Prefix of the revocation ledger's marks in the escrow bucket (S3RevocationLedger's default):
 * Object Lock COMPLIANCE objects that make a revocation independent of the writable catalog.
 */
export const REVOCATION_LEDGER_PREFIX = 'revocations/';

/** Encryption context key every escrow wrap carries; a call without it is refused. */
const ESCROW_CONTEXT_PRESENT = { Null: { 'kms:EncryptionContext:keyring': 'false' } };

/**
 * The stack's buckets and their keys.
 *
 * @example
 * const storage = new RekeyStorage(stack, config);
 * storage.grantCatalog(fn.role, 'read');
 */
export class RekeyStorage {
  /** Server access logs of the catalog and escrow buckets. */
  public readonly accessLogs: s3.Bucket;
  /** Key of the catalog bucket, sweep reports and alarm topic. */
  public readonly opsKey: kms.Key;
  /** Versioned, KMS-encrypted bucket of catalog documents (and sweep reports). */
  public readonly catalogBucket: s3.Bucket;
  /** The separate key wrapping escrowed version keys. */
  public readonly escrowKey: kms.Key;
  /** Object Lock (compliance) bucket of escrow records. */
  public readonly escrowBucket: s3.Bucket;
  /** The ops key's via-S3 statement of catalog readers (Decrypt); principals added by the grants. */
  public readonly catalogReaders: iam.PolicyStatement;
  /** The ops key's via-S3 statement of catalog writers (Decrypt, GenerateDataKey). */
  public readonly catalogWriters: iam.PolicyStatement;
  /** The escrow key's via-S3 statement of revocation-ledger readers (Decrypt); principals added by the grants. */
  public readonly ledgerReaders: iam.PolicyStatement;

  public constructor(
    scope: Construct,
    private readonly config: ResolvedRekeyConfig,
    administrators: KeyAdministrators,
  ) {
    this.accessLogs = new s3.Bucket(scope, 'AccessLogs', {
      ...secureBucketProps(),
      encryption: s3.BucketEncryption.S3_MANAGED,
      lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
    });
    this.opsKey = createManagedKey(scope, 'OpsKey', 'rekey: catalog bucket, sweep reports and alarm topic', administrators);
    this.catalogBucket = new s3.Bucket(scope, 'Catalog', {
      ...secureBucketProps(),
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.opsKey,
      bucketKeyEnabled: true,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'catalog/',
      lifecycleRules: [
        { prefix: SWEEP_REPORT_PREFIX, expiration: Duration.days(90), noncurrentVersionExpiration: Duration.days(1) },
        // Census documents are replaced by each sweep; the write marks only matter until the
        // next census (a census older than CENSUS_MAX_AGE_MS is not used, so no mark it needs expires).
        { prefix: CENSUS_PREFIX, expiration: Duration.days(CENSUS_MARK_EXPIRY_DAYS), noncurrentVersionExpiration: Duration.days(1) },
      ],
    });
    // Catalog writes reach the key-access reconciler as EventBridge events (native, no custom resource).
    (this.catalogBucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
    this.catalogReaders = viaS3Statement('CatalogReaders', [], ['kms:Decrypt'], Aws.REGION);
    this.catalogWriters = viaS3Statement('CatalogWriters', [], ['kms:Decrypt', 'kms:GenerateDataKey'], Aws.REGION);
    // Added now, filled later: every grant below (and grantKeyringUse after construction) adds its principal.
    this.opsKey.addToResourcePolicy(this.catalogReaders);
    this.opsKey.addToResourcePolicy(this.catalogWriters);

    this.escrowKey = createManagedKey(scope, 'EscrowKey', 'rekey: wraps escrowed version keys and encrypts the escrow bucket', administrators);
    this.escrowBucket = new s3.Bucket(scope, 'Escrow', {
      ...secureBucketProps(),
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.escrowKey,
      bucketKeyEnabled: true,
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(config.escrow.retentionDays)),
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'escrow/',
    });
    this.ledgerReaders = viaS3Statement('RevocationLedgerReaders', [], ['kms:Decrypt'], Aws.REGION);
    this.escrowKey.addToResourcePolicy(this.ledgerReaders);
    // Nobody deletes a mark (Object Lock refuses the locked version anyway; this also refuses the
    // delete marker that would hide it from a current-object listing).
    this.escrowBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'RevocationMarksAreNeverDeleted',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectLegalHold', 's3:BypassGovernanceRetention'],
        resources: [this.escrowBucket.arnForObjects(`${REVOCATION_LEDGER_PREFIX}*`)],
      }),
    );
  }

  /**
   * Lets every catalog reader read the revocation ledger (S3RevocationLedger.revoked:
   * ListObjectVersions under the prefix, GetObject with a VersionId, the escrow key through S3).
   * With `bucketPolicySid`, also on the bucket's side (an imported role of this account).
   * A GetObject that names a VersionId needs s3:GetObjectVersion and not s3:GetObject, and the
   * ledger never reads a mark without one, so s3:GetObject is not granted
   * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "versionId").
   */
  public grantLedgerRead(role: iam.IRole, bucketPolicySid?: string): iam.Grant {
    const marks = this.escrowBucket.arnForObjects(`${REVOCATION_LEDGER_PREFIX}*`);
    const listMarks = { StringLike: { 's3:prefix': [`${REVOCATION_LEDGER_PREFIX}*`] } };
    let grant = iam.Grant.addToPrincipal({ grantee: role, actions: ['s3:GetObjectVersion'], resourceArns: [marks] })
      .combine(iam.Grant.addToPrincipal({ grantee: role, actions: ['s3:ListBucketVersions'], resourceArns: [this.escrowBucket.bucketArn], conditions: listMarks }))
      .combine(
        iam.Grant.addToPrincipal({ grantee: role, actions: ['kms:Decrypt'], resourceArns: [this.escrowKey.keyArn], conditions: { StringEquals: { 'kms:ViaService': `s3.${Aws.REGION}.amazonaws.com` } } }),
      );
    this.ledgerReaders.addPrincipals(new iam.ArnPrincipal(role.roleArn));
    if (bucketPolicySid === undefined) return grant;
    const principal = new iam.ArnPrincipal(role.roleArn);
    const onBucket = (statement: iam.PolicyStatement): iam.Grant =>
      iam.Grant.addStatementToResourcePolicy({ grantee: role, actions: statement.actions, resourceArns: statement.resources, resource: this.escrowBucket, statement });
    grant = grant.combine(onBucket(new iam.PolicyStatement({ sid: `${bucketPolicySid}Marks`, principals: [principal], actions: ['s3:GetObjectVersion'], resources: [marks] })));
    return grant.combine(
      onBucket(new iam.PolicyStatement({ sid: `${bucketPolicySid}List`, principals: [principal], actions: ['s3:ListBucketVersions'], resources: [this.escrowBucket.bucketArn], conditions: listMarks })),
    );
  }

  /**
   * Lets the revoke function write marks (S3RevocationLedger.mark: PutObject with If-None-Match and
   * an Object Lock retain-until date, hence s3:PutObjectRetention; the escrow key through S3), and
   * denies every other principal those writes under the ledger prefix, whatever its IAM policy.
   */
  public grantLedgerWrite(role: iam.IRole): void {
    const marks = this.escrowBucket.arnForObjects(`${REVOCATION_LEDGER_PREFIX}*`);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:PutObjectRetention'], resources: [marks] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [this.escrowKey.keyArn], conditions: { StringEquals: { 'kms:ViaService': `s3.${Aws.REGION}.amazonaws.com` } } }));
    // A single-part PutObject under SSE-KMS needs GenerateDataKey only; the writer's reads of
    // marks are allowed by RevocationLedgerReaders (it reads the catalog too).
    this.escrowKey.addToResourcePolicy(viaS3Statement('RevocationLedgerWriter', [role], ['kms:GenerateDataKey'], Aws.REGION));
    this.escrowBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyTheRevokeFunctionMarks',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject', 's3:PutObjectRetention'],
        resources: [marks],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': role.roleArn } },
      }),
    );
  }

  /** Lets a function read (or read and write) every catalog document (S3CatalogStore). */
  public grantCatalog(role: iam.IRole, access: 'read' | 'write'): void {
    const prefix = this.config.catalogPrefix;
    const s3Actions = catalogActions(access);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: s3Actions.objects, resources: [this.catalogBucket.arnForObjects(`${prefix}*`)] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: s3Actions.bucket, resources: [this.catalogBucket.bucketArn], conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } } }),
    );
    const actions = access === 'write' ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'];
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [this.opsKey.keyArn] }));
    (access === 'write' ? this.catalogWriters : this.catalogReaders).addPrincipals(role);
  }

  /**
   * Lets an application role read one keyring's catalog document, on both sides (bucket
   * policy and identity), so that an imported role of this account needs nothing on its side.
   * `sid` must be unique in the bucket policy.
   */
  public grantCatalogDocumentRead(role: iam.IRole, keyring: string, sid: string): iam.Grant {
    const principal = new iam.ArnPrincipal(role.roleArn);
    const document = this.catalogBucket.arnForObjects(`${this.config.catalogPrefix}${keyring}.json`);
    const statement = new iam.PolicyStatement({ sid, principals: [principal], actions: ['s3:GetObject'], resources: [document] });
    const grant = iam.Grant.addStatementToResourcePolicy({ grantee: role, actions: ['s3:GetObject'], resourceArns: [document], resource: this.catalogBucket, statement })
      .combine(iam.Grant.addToPrincipal({ grantee: role, actions: ['s3:GetObject'], resourceArns: [document] }))
      .combine(iam.Grant.addToPrincipal({ grantee: role, actions: ['kms:Decrypt'], resourceArns: [this.opsKey.keyArn] }));
    this.catalogReaders.addPrincipals(principal);
    return grant;
  }

  /**
   * Lets the grant reconciler read the consumer registry (S3ConsumerRegistry get and list:
   * GetObject and ListObjectsV2 under `consumers/`); the ops key it already reads the catalog with.
   */
  public grantRegistryRead(role: iam.IRole): void {
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.catalogBucket.arnForObjects(`${CONSUMER_REGISTRY_PREFIX}*`)] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.catalogBucket.bucketArn], conditions: { StringLike: { 's3:prefix': [`${CONSUMER_REGISTRY_PREFIX}*`] } } }),
    );
  }

  /** Lets the sweep's state machine encrypt its reports (the S3 side comes with its result writer). */
  public grantSweepReports(role: iam.IRole): void {
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [this.opsKey.keyArn] }));
    this.catalogWriters.addPrincipals(role);
  }

  /** Lets the escrow function archive and drill: write records, wrap and unwrap with the escrow key. */
  public grantEscrowArchive(role: iam.IRole): void {
    const s3Actions = escrowActions('write');
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: s3Actions.objects, resources: [this.escrowBucket.arnForObjects('*')] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: s3Actions.bucket, resources: [this.escrowBucket.bucketArn] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'], resources: [this.escrowKey.keyArn] }));
    this.escrowKey.addToResourcePolicy(
      // Escrow wraps carry an encryption context (keyring, version); a bare call is refused.
      new iam.PolicyStatement({ sid: 'EscrowWrapAndDrill', principals: [role], actions: ['kms:Encrypt', 'kms:Decrypt'], resources: ['*'], conditions: ESCROW_CONTEXT_PRESENT }),
    );
    this.escrowKey.addToResourcePolicy(viaS3Statement('EscrowBucketObjects', [role], ['kms:Decrypt', 'kms:GenerateDataKey'], Aws.REGION));
  }

  /**
   * Lets a reconciler check that a version's escrow record exists (S3EscrowStore.get): the
   * record objects through S3 only; it cannot unwrap them (no EscrowWrapAndDrill).
   */
  public grantEscrowRead(role: iam.IRole): void {
    const s3Actions = escrowActions('read');
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: s3Actions.objects, resources: [this.escrowBucket.arnForObjects('*')] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: s3Actions.bucket, resources: [this.escrowBucket.bucketArn] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [this.escrowKey.keyArn] }));
    this.escrowKey.addToResourcePolicy(viaS3Statement(`EscrowBucketReader${Names.uniqueId(role).slice(-48)}`, [role], ['kms:Decrypt'], Aws.REGION));
  }

  /** Lets a break-glass role read escrow records and unwrap them (resource side only: any account). */
  public grantEscrowRestore(principal: iam.ArnPrincipal): void {
    const sid = `EscrowRestore${principal.arn.replace(/[^A-Za-z0-9]/g, '').slice(-40)}`;
    this.escrowKey.addToResourcePolicy(new iam.PolicyStatement({ sid, principals: [principal], actions: ['kms:Decrypt'], resources: ['*'], conditions: ESCROW_CONTEXT_PRESENT }));
    this.escrowKey.addToResourcePolicy(viaS3Statement(`${sid}Objects`, [principal], ['kms:Decrypt'], Aws.REGION));
    this.escrowBucket.addToResourcePolicy(
      new iam.PolicyStatement({ sid, principals: [principal], actions: ['s3:GetObject', 's3:ListBucket'], resources: [this.escrowBucket.bucketArn, this.escrowBucket.arnForObjects('*')] }),
    );
  }
}
