/**
 * The consumer side of the construct API: how an application's CDK code, in the rekey app or in
 * another stack, app or account, lets its functions encrypt and decrypt with a keyring.
 *
 * What a consumer needs is exactly what the application client calls
 * (shared/compose/aws/app-client-services.ts), and nothing else:
 *
 * | client call | AWS call | permission |
 * |---|---|---|
 * | catalog document of the keyring (S3CatalogStore.get) | GetObject `<catalogPrefix><keyring>.json` (SSE-KMS, ops key, Bucket Key) | s3:GetObject on that object; kms:Decrypt on the ops key via S3 |
 * | revocation ledger over it (S3RevocationLedger.revoked) | ListObjectVersions `revocations/<keyring>/`, GetObject with VersionId (SSE-KMS, escrow key) | s3:ListBucketVersions (that prefix), s3:GetObjectVersion; kms:Decrypt on the escrow key via S3 |
 * | unwrap a version key (KmsKeyVault.unwrap), to decrypt and to encrypt | kms:Decrypt, context `{ keyring, version }` | kms:Decrypt on the keyring key (the per-version grant of key-access) |
 *
 * Encrypting needs nothing more than decrypting: the client encrypts under the active version by
 * unwrapping its key (kms:Decrypt) and sealing locally; it never calls kms:Encrypt or
 * GenerateDataKey. KMS therefore cannot tell an encrypting consumer from a decrypting one, and
 * {@link IRekeyKeyring.grantEncryptDecrypt} grants the same permissions as
 * {@link IRekeyKeyring.grantDecrypt}; the difference is the intent recorded in the consumer
 * registry (`rekey consumers add ... [--decrypt-only]`). The client emits metrics as embedded
 * metric format log lines and puts no events: no CloudWatch or EventBridge permission is needed.
 */
import { Aws, Lazy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { configFromOutputs } from '../shared/config/config-from-outputs';
import { ENV } from '../shared/config/env-names';
import { UnknownKeyringError, ValidationError } from '../shared/errors';
import { DEFAULT_CATALOG_TTL_MS, MAX_CATALOG_TTL_MS } from '../shared/vocabulary/catalog-cache';
import { kmsKeyArn } from '../shared/vocabulary/names';
import * as z from '../shared/vocabulary/zod';
import { REVOCATION_LEDGER_PREFIX } from './parts/storage';

/** Where a consumer finds a rekey deployment: the values of its stack outputs. */
export interface RekeyAttributes {
  /** Bucket of catalog documents (output `CatalogBucket`). */
  readonly catalogBucketName: string;
  /** Key prefix of catalog documents (output `CatalogPrefix`). @default 'catalog/' */
  readonly catalogPrefix?: string;
  /** Keyring name → ARN of its KMS key (output `KeyringKeys`, parsed). */
  readonly keyringKeyArns: Readonly<Record<string, string>>;
  /** Object Lock bucket holding escrow records and the revocation ledger (output `EscrowBucket`). */
  readonly escrowBucketName: string;
  /** ARN of the escrow key, the escrow bucket's key (output `EscrowKeyArn`). */
  readonly escrowKeyArn: string;
  /** ARN of the ops key, the catalog bucket's key (output `OpsKeyArn`). */
  readonly opsKeyArn: string;
  /** The stack's event bus (output `EventBusName`); the client requires it in its configuration. */
  readonly eventBusName: string;
  /** Catalog cache lifetime of the stack, in ms (output `CatalogTtlMs`). @default 60000 */
  readonly catalogTtlMs?: number;
}

/** Options of {@link Rekey.fromOutputs} and {@link Rekey.fromAttributes}. */
export interface RekeyImportOptions {
  /**
   * A shorter catalog cache lifetime for the bound functions, in ms; refused when longer than
   * the stack's (a revocation waits only the stack's lifetime for readers to see it).
   * @default - the stack's (output `CatalogTtlMs`)
   */
  readonly catalogTtlMs?: number;
}

/** One keyring of a rekey deployment, as a consumer uses it. */
export interface IRekeyKeyring {
  /** The keyring name. */
  readonly name: string;
  /** ARN of the keyring's KMS key (it wraps the keyring's version keys). */
  readonly keyArn: string;
  /**
   * Lets `grantee` decrypt envelopes of this keyring: read its catalog document and the
   * revocation ledger, and unwrap version keys. On a keyring of a {@link Rekey} in the same app
   * the grantee (an IAM role) is also registered as a deploy-time grantee, so key-access creates
   * its per-version KMS grants and both buckets admit it; on an imported keyring only the
   * identity policy is added, and the platform team registers the role with
   * `rekey consumers add KEYRING ROLE_ARN --decrypt-only`.
   */
  grantDecrypt(grantee: iam.IGrantable): iam.Grant;
  /**
   * Lets `grantee` encrypt and decrypt with this keyring. The same permissions as
   * {@link IRekeyKeyring.grantDecrypt}: encrypting unwraps the active version's key with
   * kms:Decrypt and seals locally, so KMS cannot tell the two apart; the distinction is the
   * registry entry's `access` (`rekey consumers add KEYRING ROLE_ARN`, without `--decrypt-only`).
   */
  grantEncryptDecrypt(grantee: iam.IGrantable): iam.Grant;
  /**
   * Sets the REKEY_* variables on `fn` so that `createRekeyClient({ env: process.env })` works
   * in it (bucket, prefix, keyring keys, escrow bucket and key, event bus, catalog lifetime).
   * Grants nothing: call a grant method too.
   *
   * @throws ValidationError when `fn` is in another region than the rekey stack (KMS keys are regional).
   */
  bindEnvironment(fn: lambda.Function): void;
}

/** A rekey deployment, placed in this app ({@link Rekey}) or imported ({@link Rekey.fromOutputs}). */
export interface IRekey {
  /** Bucket of catalog documents. */
  readonly catalogBucketName: string;
  /** Key prefix of catalog documents. */
  readonly catalogPrefix: string;
  /** Object Lock bucket of escrow records and revocation marks. */
  readonly escrowBucketName: string;
  /** ARN of the escrow key. */
  readonly escrowKeyArn: string;
  /** ARN of the ops key (the catalog bucket's key). */
  readonly opsKeyArn: string;
  /** Name of the stack's event bus. */
  readonly eventBusName: string;
  /** Catalog cache lifetime in ms that bound functions get. */
  readonly catalogTtlMs: number;
  /**
   * One keyring.
   *
   * @throws UnknownKeyringError when the deployment has no such keyring.
   */
  keyring(name: string): IRekeyKeyring;
}

/** Everything a consumer's statements and environment are made of (ARNs may be tokens). */
export interface RekeyReference {
  readonly catalogBucketName: string;
  readonly catalogBucketArn: string;
  readonly catalogPrefix: string;
  readonly escrowBucketName: string;
  readonly escrowBucketArn: string;
  readonly escrowKeyArn: string;
  readonly opsKeyArn: string;
  readonly eventBusName: string;
  readonly keyringKeyArns: Readonly<Record<string, string>>;
  readonly catalogTtlMs: number;
  /** Region of the deployment (a token for a local, environment-agnostic one). */
  readonly region: string;
}

/**
 * The identity statements a consumer of `keyring` needs (see the module comment), each scoped to
 * what the client reads: its keyring's document, its keyring's ledger marks, its keyring's
 * context, and the two bucket keys through S3 for their own bucket only.
 *
 * @example
 * const statements = consumerStatements(reference, 'pii');
 */
export function consumerStatements(ref: RekeyReference, keyring: string): iam.PolicyStatement[] {
  if (ref.keyringKeyArns[keyring] === undefined) throw new UnknownKeyringError(keyring);
  const viaS3 = (bucketArn: string): Record<string, unknown> => ({
    StringEquals: { 'kms:ViaService': `s3.${ref.region}.amazonaws.com`, 'kms:EncryptionContext:aws:s3:arn': bucketArn },
  });
  const marks = `${REVOCATION_LEDGER_PREFIX}${keyring}/`;
  return [
    new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`${ref.catalogBucketArn}/${ref.catalogPrefix}${keyring}.json`] }),
    new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [ref.opsKeyArn], conditions: viaS3(ref.catalogBucketArn) }),
    new iam.PolicyStatement({ actions: ['s3:GetObjectVersion'], resources: [`${ref.escrowBucketArn}/${marks}*`] }),
    new iam.PolicyStatement({ actions: ['s3:ListBucketVersions'], resources: [ref.escrowBucketArn], conditions: { StringLike: { 's3:prefix': [`${marks}*`] } } }),
    new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [ref.escrowKeyArn], conditions: viaS3(ref.escrowBucketArn) }),
    keyringDecryptStatement(ref, keyring),
  ];
}

/**
 * The identity statement that lets a consumer unwrap `keyring`'s version keys: kms:Decrypt on its
 * key with its context (what actually allows the call is key-access's per-version KMS grant).
 *
 * @throws UnknownKeyringError when the deployment has no such keyring.
 * @example
 * keyringDecryptStatement(reference, 'pii');
 */
export function keyringDecryptStatement(ref: RekeyReference, keyring: string): iam.PolicyStatement {
  const keyArn = ref.keyringKeyArns[keyring];
  if (keyArn === undefined) throw new UnknownKeyringError(keyring);
  return new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [keyArn], conditions: { StringEquals: { 'kms:EncryptionContext:keyring': keyring } } });
}

/**
 * Adds `statements` to the grantee's identity policy, as one iam.Grant (its principalStatements
 * are the statements added; none when the principal's policy cannot change, e.g. an immutable role).
 */
export function grantOnPrincipal(grantee: iam.IGrantable, statements: readonly iam.PolicyStatement[]): iam.Grant {
  let grant: iam.Grant | undefined;
  for (const s of statements) {
    const one = iam.Grant.addToPrincipal({ grantee, actions: s.actions, resourceArns: s.resources, ...(s.conditions === undefined || Object.keys(s.conditions).length === 0 ? {} : { conditions: s.conditions }) });
    grant = grant === undefined ? one : grant.combine(one);
  }
  return grant ?? iam.Grant.drop(grantee, 'no statement');
}

// Functions bound per deployment: their REKEY_KEYRING_KEYS is rendered once, whatever binds them.
const boundKeyrings = new WeakMap<lambda.Function, RekeyReference>();

/**
 * Sets the client's variables on `fn` (see {@link IRekeyKeyring.bindEnvironment}).
 *
 * @throws ValidationError when `fn` is in another region than the deployment, or already bound to another one.
 * @example
 * bindRekeyEnvironment(fn, reference);
 */
export function bindRekeyEnvironment(fn: lambda.Function, ref: RekeyReference): void {
  const fnRegion = Stack.of(fn).region;
  if (!Token.isUnresolved(fnRegion) && !Token.isUnresolved(ref.region) && fnRegion !== ref.region) {
    throw new ValidationError(`function ${fn.node.path} is in ${fnRegion} but the rekey deployment is in ${ref.region}: the client reads KMS keys of its own region`);
  }
  const bound = boundKeyrings.get(fn);
  if (bound !== undefined && bound !== ref) throw new ValidationError(`function ${fn.node.path} is already bound to another rekey deployment`);
  if (bound !== undefined) return;
  boundKeyrings.set(fn, ref);
  const stack = Stack.of(fn);
  fn.addEnvironment(ENV.catalogBucket, ref.catalogBucketName);
  fn.addEnvironment(ENV.catalogPrefix, ref.catalogPrefix);
  fn.addEnvironment(ENV.keyringKeys, Lazy.string({ produce: () => stack.toJsonString(ref.keyringKeyArns) }));
  fn.addEnvironment(ENV.escrowBucket, ref.escrowBucketName);
  fn.addEnvironment(ENV.escrowKeyArn, ref.escrowKeyArn);
  fn.addEnvironment(ENV.eventBusName, ref.eventBusName);
  fn.addEnvironment(ENV.catalogTtlMs, String(ref.catalogTtlMs));
}

const ARN_PARTS = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):key\/.+$/;

/**
 * The attributes named by a stack's outputs map (DescribeStacks' Outputs as key → value, or the
 * stack's entry of `cdk deploy --outputs-file`), validated by the client's own loader (configFromOutputs), so a map the
 * client would refuse is refused here, at synthesis.
 *
 * @throws ValidationError naming every missing or malformed output.
 * @example
 * const attrs = attributesFromOutputs(JSON.parse(readFileSync('rekey-outputs.json', 'utf8')));
 */
export function attributesFromOutputs(outputs: Readonly<Record<string, string>>): RekeyAttributes {
  if (outputs === null || typeof outputs !== 'object') throw new ValidationError('Rekey.fromOutputs needs the stack outputs as an object of key → value');
  for (const [key, value] of Object.entries(outputs)) {
    if (Token.isUnresolved(value)) throw new ValidationError(`output ${key.slice(0, 40)} is a token: Rekey.fromOutputs needs the literal values (use Rekey.fromAttributes for tokens)`);
  }
  const config = configFromOutputs(outputs);
  const opsKeyArn = outputs['OpsKeyArn'];
  if (opsKeyArn === undefined || !z.safeParse(kmsKeyArn, opsKeyArn).success) {
    throw new ValidationError('the rekey stack outputs do not name a consumer: OpsKeyArn is missing or not a KMS key ARN (deploy a rekey version that publishes it)');
  }
  return {
    catalogBucketName: config.catalogBucket,
    catalogPrefix: config.catalogPrefix,
    keyringKeyArns: config.keyringKeys,
    escrowBucketName: config.escrowBucket,
    escrowKeyArn: config.escrowKeyArn,
    opsKeyArn,
    eventBusName: config.eventBusName,
    ...(config.catalogTtlMs === undefined ? {} : { catalogTtlMs: config.catalogTtlMs }),
  };
}

/** The stack's catalog lifetime, or the shorter one asked for. */
function boundTtl(stackTtl: number, options: RekeyImportOptions): number {
  const asked = options.catalogTtlMs;
  if (asked === undefined) return stackTtl;
  if (!Number.isSafeInteger(asked) || asked <= 0 || asked > MAX_CATALOG_TTL_MS) throw new ValidationError(`catalogTtlMs must be a positive integer of at most ${MAX_CATALOG_TTL_MS}`);
  if (asked > stackTtl) throw new ValidationError(`catalogTtlMs ${asked} is longer than the stack's catalog lifetime (${stackTtl} ms)`);
  return asked;
}

/**
 * A rekey deployment imported from its outputs or attributes: grants are identity-side only.
 * Built with {@link Rekey.fromOutputs} or {@link Rekey.fromAttributes}.
 */
export class ImportedRekey extends Construct implements IRekey {
  public readonly catalogBucketName: string;
  public readonly catalogPrefix: string;
  public readonly escrowBucketName: string;
  public readonly escrowKeyArn: string;
  public readonly opsKeyArn: string;
  public readonly eventBusName: string;
  public readonly catalogTtlMs: number;
  /** Everything the statements and the environment are made of. */
  public readonly reference: RekeyReference;
  private readonly keyrings = new Map<string, IRekeyKeyring>();

  public constructor(scope: Construct, id: string, attrs: RekeyAttributes, options: RekeyImportOptions = {}) {
    super(scope, id);
    const parts = ARN_PARTS.exec(attrs.opsKeyArn);
    // A token ARN (fromAttributes with references) leaves partition and region to the consumer's stack.
    const partition = parts?.[1] ?? Aws.PARTITION;
    const region = parts?.[2] ?? Stack.of(this).region;
    if (!Token.isUnresolved(attrs.opsKeyArn) && parts === null) throw new ValidationError('opsKeyArn must be a KMS key ARN');
    if (Object.keys(attrs.keyringKeyArns).length === 0) throw new ValidationError('keyringKeyArns must name at least one keyring');
    this.catalogBucketName = attrs.catalogBucketName;
    this.catalogPrefix = attrs.catalogPrefix ?? 'catalog/';
    this.escrowBucketName = attrs.escrowBucketName;
    this.escrowKeyArn = attrs.escrowKeyArn;
    this.opsKeyArn = attrs.opsKeyArn;
    this.eventBusName = attrs.eventBusName;
    this.catalogTtlMs = boundTtl(attrs.catalogTtlMs ?? DEFAULT_CATALOG_TTL_MS, options);
    this.reference = {
      catalogBucketName: this.catalogBucketName,
      catalogBucketArn: `arn:${partition}:s3:::${this.catalogBucketName}`,
      catalogPrefix: this.catalogPrefix,
      escrowBucketName: this.escrowBucketName,
      escrowBucketArn: `arn:${partition}:s3:::${this.escrowBucketName}`,
      escrowKeyArn: this.escrowKeyArn,
      opsKeyArn: this.opsKeyArn,
      eventBusName: this.eventBusName,
      keyringKeyArns: { ...attrs.keyringKeyArns },
      catalogTtlMs: this.catalogTtlMs,
      region,
    };
  }

  /** @inheritdoc */
  public keyring(name: string): IRekeyKeyring {
    const known = this.keyrings.get(name);
    if (known !== undefined) return known;
    const keyArn = this.reference.keyringKeyArns[name];
    if (keyArn === undefined) throw new UnknownKeyringError(name);
    const reference = this.reference;
    const keyring: IRekeyKeyring = {
      name,
      keyArn,
      grantDecrypt: (grantee) => grantOnPrincipal(grantee, consumerStatements(reference, name)),
      grantEncryptDecrypt: (grantee) => grantOnPrincipal(grantee, consumerStatements(reference, name)),
      bindEnvironment: (fn) => bindRekeyEnvironment(fn, reference),
    };
    this.keyrings.set(name, keyring);
    return keyring;
  }
}
