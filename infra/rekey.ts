/**
 * Everything rekey runs on AWS, as one construct that a platform team places in any stack of its
 * own CDK app (one per stack), composed of its parts (infra/parts/): storage (buckets and their
 * keys), keyring keys, events (bus, archive, rules), functions and the sweep, their permissions,
 * schedules, keyring provisioning, the consumer registry, operator access, alarms, dashboard and
 * outputs. Secure defaults live in defaults.ts, validation in props.ts, building blocks in
 * constructs/, the consumer API in consumer.ts.
 *
 * Its resources' logical ids do not depend on its id when that id is `Default` (CDK leaves a
 * `Default` path component out of logical ids): RekeyStack places it so, and keeps the logical
 * ids of every stack deployed before the construct existed. Under another id the resources are
 * new ones; the outputs keep their fixed keys either way (the CLI and the client read them by key).
 */
import { Names, Stack } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ENV } from '../shared/config/env-names';
import { UnknownKeyringError, ValidationError } from '../shared/errors';
import { DEFAULT_CATALOG_TTL_MS } from '../shared/vocabulary/catalog-cache';
import { grantOperatorAccess } from './access/operator-access';
import {
  ImportedRekey,
  attributesFromOutputs,
  bindRekeyEnvironment,
  grantOnPrincipal,
  keyringDecryptStatement,
  type IRekey,
  type IRekeyKeyring,
  type RekeyAttributes,
  type RekeyImportOptions,
  type RekeyReference,
} from './consumer';
import { KeyringKey } from './constructs/keyring-key';
import { KeyringProvisioning } from './constructs/keyring-provisioning';
import { Monitoring } from './constructs/monitoring';
import type { RekeyFunction } from './constructs/rekey-function';
import type { SweepStateMachine } from './constructs/sweep-state-machine';
import type { FunctionName } from './defaults';
import { createAlarmTopic } from './parts/alarm-topic';
import { ConsumerRegistryAccess } from './parts/consumer-registry';
import { EventRoutes, createEventBus } from './parts/events';
import { KeyAdministrationAlarms, keyAdministrators, restrictCompromiseReports } from './parts/key-administration';
import { grantFunctionPermissions } from './parts/function-permissions';
import { KeyUseObservation } from './parts/key-use';
import { RecordCensus } from './parts/record-census';
import { RekeyFunctions } from './parts/functions';
import { RekeySchedules } from './parts/schedules';
import { addStackOutputs } from './parts/stack-outputs';
import { RekeyStorage } from './parts/storage';
import { REKEY_CONFIG_KEYS, resolveRekeyProps, type RekeyConfigProps, type ResolvedRekeyConfig } from './props';

/**
 * Props of {@link Rekey}: the rekey configuration (the same JSON as the `rekey` key of cdk.json
 * context); every field is documented, with its default, on the schema in props.ts.
 */
export type RekeyProps = RekeyConfigProps;

// The Rekey of each stack: its outputs, bus and dashboard names are per stack.
const placed = new WeakMap<Stack, Rekey>();

/**
 * rekey's keys, catalog, escrow, functions, schedules, sweep, alarms and outputs, in the stack of `scope`.
 *
 * @example
 * const stack = new Stack(app, 'Platform', { env: { account: '111122223333', region: 'eu-west-1' } });
 * const rekey = new Rekey(stack, 'Rekey', { keyrings: [{ name: 'pii', rotateEvery: '30d', sensitivity: 'high' }], consumerAccounts: ['111122223333', '444455556666'] });
 * rekey.keyring('pii').grantEncryptDecrypt(ordersFunction);
 * rekey.keyring('pii').bindEnvironment(ordersFunction);
 */
export class Rekey extends Construct implements IRekey {
  /**
   * A rekey deployment named by its stack outputs (DescribeStacks' Outputs as key → value, or the
   * stack's entry of `cdk deploy --outputs-file`), for consumers in other stacks, apps or accounts.
   *
   * @throws ValidationError naming every missing or malformed output.
   * @example
   * const rekey = Rekey.fromOutputs(this, 'Rekey', JSON.parse(readFileSync('rekey-outputs.json', 'utf8')));
   * rekey.keyring('pii').grantDecrypt(fn);
   */
  public static fromOutputs(scope: Construct, id: string, outputs: Readonly<Record<string, string>>, options: RekeyImportOptions = {}): IRekey {
    return new ImportedRekey(scope, id, attributesFromOutputs(outputs), options);
  }

  /**
   * A rekey deployment named by its attributes (values may be tokens, e.g. SSM parameters).
   *
   * @example
   * const rekey = Rekey.fromAttributes(this, 'Rekey', { catalogBucketName, keyringKeyArns: { pii: piiKeyArn }, escrowBucketName, escrowKeyArn, opsKeyArn, eventBusName });
   */
  public static fromAttributes(scope: Construct, id: string, attrs: RekeyAttributes, options: RekeyImportOptions = {}): IRekey {
    return new ImportedRekey(scope, id, attrs, options);
  }

  /** The validated configuration the construct was built from. */
  public readonly config: ResolvedRekeyConfig;
  /** Keyring name → its KMS key construct. */
  public readonly keyrings: ReadonlyMap<string, KeyringKey>;
  /** Versioned, KMS-encrypted bucket of catalog documents (and sweep reports, registry documents). */
  public readonly catalogBucket: s3.Bucket;
  /** Object Lock (compliance) bucket of escrow records. */
  public readonly escrowBucket: s3.Bucket;
  /** The separate key wrapping escrowed version keys. */
  public readonly escrowKey: kms.Key;
  /** Key of the catalog bucket, sweep reports and alarm topic. */
  public readonly opsKey: kms.Key;
  /** Bus for rekey's audit events and `Key Version Compromised`. */
  public readonly eventBus: events.EventBus;
  /** The functions, by rekey name. */
  public readonly functions: Readonly<Record<FunctionName, RekeyFunction>>;
  /** The re-encryption sweep. */
  public readonly sweep: SweepStateMachine;
  /** Where alarms go. */
  public readonly alarmTopic: sns.ITopic;
  /** Alarms and dashboard. */
  public readonly monitoring: Monitoring;
  /** The keyrings' custom resources (created on deploy by the provision function). */
  public readonly provisioning: KeyringProvisioning;
  /** Accounts whose roles the consumer registry may name (tokens in an environment-agnostic stack). */
  public readonly consumerAccounts: readonly string[];

  private readonly storage: RekeyStorage;
  /** Observed key use (CloudTrail → key-use function → the state bucket). */
  private readonly keyUse: KeyUseObservation;
  private readonly census: RecordCensus;
  private readonly reference: RekeyReference;
  private readonly keyringViews = new Map<string, IRekeyKeyring>();

  public constructor(scope: Construct, id: string, props: RekeyProps) {
    // Validate before a single construct exists: a bad prop fails synth with every problem listed.
    const config = resolveRekeyProps(Object.fromEntries(REKEY_CONFIG_KEYS.filter((k) => props[k] !== undefined).map((k) => [k, props[k]])));
    const stack = Stack.of(scope);
    const other = placed.get(stack);
    if (other !== undefined) {
      throw new ValidationError(`stack ${stack.node.path} already holds a Rekey (${other.node.path}): place one Rekey per stack (its outputs, bus and dashboard are named per stack)`);
    }
    super(scope, id);
    placed.set(stack, this);
    this.config = config;

    // Key administration: the deploying role and the break-glass role, never the account at large.
    const administrators = keyAdministrators(stack, config);
    this.storage = new RekeyStorage(this, config, administrators);
    ({ catalogBucket: this.catalogBucket, escrowBucket: this.escrowBucket, escrowKey: this.escrowKey, opsKey: this.opsKey } = this.storage);
    this.keyrings = new Map(config.keyrings.map((k) => [k.name, new KeyringKey(this, `Keyring-${k.name}`, { keyring: k.name, sensitivity: k.sensitivity, administrators })]));
    this.eventBus = createEventBus(this);
    restrictCompromiseReports(this.eventBus, config.securityPrincipalArns);

    const parts = { config, storage: this.storage, keyrings: this.keyrings, eventBus: this.eventBus };
    const built = new RekeyFunctions(this, parts);
    const fns = (this.functions = built.functions);
    this.sweep = built.sweep;
    grantFunctionPermissions({ ...parts, functions: fns, sweep: this.sweep });
    this.reference = {
      catalogBucketName: this.catalogBucket.bucketName,
      catalogBucketArn: this.catalogBucket.bucketArn,
      catalogPrefix: config.catalogPrefix,
      escrowBucketName: this.escrowBucket.bucketName,
      escrowBucketArn: this.escrowBucket.bucketArn,
      escrowKeyArn: this.escrowKey.keyArn,
      opsKeyArn: this.opsKey.keyArn,
      eventBusName: this.eventBus.eventBusName,
      keyringKeyArns: Object.fromEntries([...this.keyrings].map(([name, k]) => [name, k.key.keyArn])),
      catalogTtlMs: DEFAULT_CATALOG_TTL_MS,
      region: stack.region,
    };
    // Application roles from props; more can be added with keyring(name).grantEncryptDecrypt.
    config.keyrings.forEach((k) => k.applicationRoleArns.forEach((arn, i) => this.keyring(k.name).grantEncryptDecrypt(iam.Role.fromRoleArn(this, `App-${k.name}-${i}`, arn, { mutable: false }))));

    const schedules = new RekeySchedules(this, { config, functions: fns, sweep: this.sweep });
    const routes = new EventRoutes(this, { config, eventBus: this.eventBus, functions: fns, catalogBucket: this.catalogBucket });
    const keyUse = (this.keyUse = new KeyUseObservation(this, { storage: this.storage, keyrings: this.keyrings, functions: fns }));
    const census = (this.census = new RecordCensus(this, { config, storage: this.storage, functions: fns }));
    this.consumerAccounts = new ConsumerRegistryAccess(this, { config, storage: this.storage, keyrings: this.keyrings, keyAccess: fns['key-access'] }).accounts;

    // Keyrings exist on deploy (created with their policy, policy kept in step, never deleted): after
    // the provider's permissions, and once the grant reconciler is wired to the first catalog write.
    const dependsOn = [fns.provision.role, this.catalogBucket, routes.catalogWritten, fns['key-access'].fn];
    this.provisioning = new KeyringProvisioning(this, 'Keyrings', { provider: fns.provision.fn, keyrings: config.keyrings, dependsOn });

    // Operators of the CLI's AWS mode (status, rotate, freeze, unfreeze, revoke, escrow verify, consumers).
    config.operatorRoleArns.forEach((arn, i) => this.grantOperatorAccess(iam.Role.fromRoleArn(this, `Operator-${i}`, arn, { mutable: false })));

    this.alarmTopic = createAlarmTopic(this, config.alarms, this.opsKey);
    new KeyAdministrationAlarms(this, {
      keys: [...[...this.keyrings.values()].map((k) => k.key), this.opsKey, this.escrowKey],
      keyringKeys: [...this.keyrings.values()].map((k) => k.key),
      keyAccessRole: fns['key-access'].role,
      topic: this.alarmTopic,
      ...(config.alarms.topicArn === undefined ? { topicKey: this.opsKey } : {}),
      deadLetterQueue: routes.deadLetterQueue,
    });
    const failureQueues = Object.entries(fns).flatMap(([name, fn]) => (fn.failureQueue === undefined ? [] : [[`${name}-failures`, fn.failureQueue] as const]));
    this.monitoring = new Monitoring(this, 'Monitoring', {
      topic: this.alarmTopic,
      keyrings: config.keyrings,
      queues: { 'scheduler-dlq': schedules.deadLetterQueue, 'compromise-rule-dlq': routes.deadLetterQueue, 'key-use-rule-dlq': keyUse.deadLetterQueue, ...(census.deadLetterQueue === undefined ? {} : { 'record-written-rule-dlq': census.deadLetterQueue }), ...Object.fromEntries(failureQueues) },
      functions: Object.fromEntries(Object.entries(fns).map(([n, f]) => [n, f.fn])),
      sweep: this.sweep.stateMachine,
      sweepEverySeconds: config.sweep.everySeconds,
      gracePeriodEverySeconds: config.schedules.gracePeriod,
      escrowDrillEverySeconds: config.schedules.escrowDrill,
      dashboardName: `${stack.stackName}-rekey`,
    });

    const { catalogBucket, escrowBucket, escrowKey, opsKey, eventBus, sweep, alarmTopic, consumerAccounts } = this;
    const environment = { ...built.environment, [ENV.catalogTtlMs]: String(this.reference.catalogTtlMs) };
    addStackOutputs(this, { config, environment, catalogBucket, escrowBucket, escrowKey, opsKey, consumerAccounts, eventBus, sweep, functions: fns, alarmTopic, ...(census.lossQueuesJson === undefined ? {} : { censusLossQueues: census.lossQueuesJson }) });
  }

  /** Bucket of catalog documents. */
  public get catalogBucketName(): string {
    return this.reference.catalogBucketName;
  }

  /** Key prefix of catalog documents. */
  public get catalogPrefix(): string {
    return this.reference.catalogPrefix;
  }

  /** Object Lock bucket of escrow records and revocation marks. */
  public get escrowBucketName(): string {
    return this.reference.escrowBucketName;
  }

  /** ARN of the escrow key. */
  public get escrowKeyArn(): string {
    return this.reference.escrowKeyArn;
  }

  /** ARN of the ops key. */
  public get opsKeyArn(): string {
    return this.reference.opsKeyArn;
  }

  /** Name of the event bus. */
  public get eventBusName(): string {
    return this.reference.eventBusName;
  }

  /** Catalog cache lifetime (ms) of the functions, and of every bound consumer. */
  public get catalogTtlMs(): number {
    return this.reference.catalogTtlMs;
  }

  /**
   * One keyring of this deployment. Its grants register the grantee deploy-time (key-access
   * creates its per-version KMS grants; the catalog document, the ledger and the bucket keys
   * admit it on their side, so an imported role of this account needs nothing on its side) and
   * add the identity statements a role of this app takes.
   *
   * @throws UnknownKeyringError when the construct has no such keyring.
   * @example
   * const grant = rekey.keyring('pii').grantDecrypt(reportsFunction);
   * rekey.keyring('pii').bindEnvironment(reportsFunction);
   */
  public keyring(name: string): IRekeyKeyring {
    const known = this.keyringViews.get(name);
    if (known !== undefined) return known;
    const key = this.keyrings.get(name);
    if (key === undefined) throw new UnknownKeyringError(name);
    const grant = (grantee: iam.IGrantable): iam.Grant => this.grantLocal(key, grantee);
    const view: IRekeyKeyring = { name, keyArn: key.key.keyArn, grantDecrypt: grant, grantEncryptDecrypt: grant, bindEnvironment: (fn: lambda.Function) => bindRekeyEnvironment(fn, this.reference) };
    this.keyringViews.set(name, view);
    return view;
  }

  /**
   * Lets an application role use a keyring (encrypt and decrypt).
   *
   * @deprecated Use `keyring(name).grantEncryptDecrypt(grantee)`, which takes any IGrantable and returns the iam.Grant.
   * @example
   * rekey.grantKeyringUse(iam.Role.fromRoleArn(this, 'Orders', 'arn:aws:iam::123456789012:role/orders'), 'pii');
   * @throws UnknownKeyringError when the construct has no such keyring.
   */
  public grantKeyringUse(role: iam.IRole, keyring: string): void {
    this.keyring(keyring).grantEncryptDecrypt(role);
  }

  /**
   * Lets an operator role run the CLI's AWS mode (cli/aws-commands.ts): outputs, catalogs (read,
   * freeze, unfreeze), the consumer registry, invoke rotate and escrow, put compromise reports and
   * its freezes' audit events; no key material. What it gets, and on which side, is in
   * access/operator-access.ts.
   *
   * @example
   * rekey.grantOperatorAccess(iam.Role.fromRoleArn(this, 'Ops', 'arn:aws:iam::123456789012:role/rekey-operator'));
   */
  public grantOperatorAccess(role: iam.IRole): void {
    const { catalogBucket, opsKey, catalogWriters } = this.storage;
    const invoked = [this.functions.rotate.fn, this.functions.escrow.fn];
    this.keyUse.grantRead(role);
    this.census.grantRead(role);
    grantOperatorAccess({ stack: Stack.of(this), catalogBucket, catalogPrefix: this.config.catalogPrefix, opsKey, catalogWriters, eventBus: this.eventBus, invoked, recordTargets: this.config.recordTargets, tableTargets: this.config.tableTargets }, role);
    // Status, freeze and unfreeze read the catalog through the revocation ledger, on both sides.
    this.storage.grantLedgerRead(role, `OperatorLedger${Names.uniqueId(role).replace(/[^A-Za-z0-9]/g, '').slice(-40)}`);
  }

  /** A deploy-time grant: registered grantee, both sides of the document and the ledger, the identity statements. */
  private grantLocal(key: KeyringKey, grantee: iam.IGrantable): iam.Grant {
    const role = grantee.grantPrincipal as Partial<iam.IRole>;
    if (typeof role.roleArn !== 'string' || !Construct.isConstruct(role)) {
      throw new ValidationError(`a keyring of a Rekey in this app is granted to IAM roles only (registered by role ARN as a KMS grantee): ${grantee.grantPrincipal.toString().slice(0, 80)}`);
    }
    const asRole = role as iam.IRole;
    key.addGrantee(asRole.roleArn);
    const keyring = key.keyring;
    // The grantee's position keeps the sid stable when the same role is granted again.
    const sid = `ReadCatalog${keyring.replace(/[^A-Za-z0-9]/g, '')}${key.granteeArns.indexOf(asRole.roleArn) + 1}`;
    const tag = Names.uniqueId(asRole).replace(/[^A-Za-z0-9]/g, '').slice(-40);
    return this.storage
      .grantCatalogDocumentRead(asRole, keyring, sid)
      .combine(this.storage.grantLedgerRead(asRole, `AppLedger${tag}`))
      .combine(grantOnPrincipal(grantee, [keyringDecryptStatement(this.reference, keyring)]));
  }
}
