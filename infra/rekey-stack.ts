/**
 * The one rekey stack: keys and key policies, buckets, functions, schedules, the compromise
 * rule, the sweep state machine, alarms, dashboard and outputs. Composition only: secure
 * defaults live in defaults.ts, validation in props.ts, building blocks in constructs/.
 */
import { Aws, CfnOutput, Duration, Lazy, Names, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ENV } from '../shared/config/env-names';
import { METRIC_NAMESPACE } from '../shared/vocabulary/metric-names';
import { ARCHIVED_EVENT_SOURCES, COMPROMISE_EVENT_DETAIL_TYPE, COMPROMISE_EVENT_SOURCE } from '../shared/vocabulary/event-names';
import { UnknownKeyringError } from '../shared/errors';
import { KeyringKey } from './constructs/keyring-key';
import { createManagedKey, viaS3Statement } from './constructs/key-policy';
import { Monitoring } from './constructs/monitoring';
import { RekeyFunction, type FunctionNetwork } from './constructs/rekey-function';
import { ScheduledInvocation, schedulerRole, staggerOffsets } from './constructs/scheduled-invocation';
import { SweepStateMachine } from './constructs/sweep-state-machine';
import { DELIVERY_RETRY, FUNCTION_ENTRIES, deadLetterQueueProps, secureBucketProps, type FunctionName } from './defaults';
import { KEY_GRANTEES_ENV } from './key-access/env-names';
import { VERSION_CREATORS, allowBreakerFacts, catalogActions, escrowActions, recordTargetActions } from './access/function-access';
import { grantOperatorAccess } from './access/operator-access';
import { KeyringProvisioning } from './constructs/keyring-provisioning';
import { REKEY_CONFIG_KEYS, resolveRekeyProps, type RekeyConfigProps, type ResolvedRekeyConfig } from './props';
import type { StackOutputKey } from './outputs';

/** Props of {@link RekeyStack}: the rekey configuration plus ordinary stack props. */
export interface RekeyStackProps extends StackProps, RekeyConfigProps {}

/** Prefix of sweep reports (Distributed Map results) in the catalog bucket. */
export const SWEEP_REPORT_PREFIX = 'sweeps/';


/** Functions that reach the cache, hence run in its VPC when one is configured. */
const CACHE_FUNCTIONS: ReadonlySet<FunctionName> = new Set<FunctionName>(['grace-period', 'cache-invalidate', 'revoke']);

/**
 * Everything rekey runs on AWS, in one stack.
 *
 * @example
 * const stack = new RekeyStack(app, 'Rekey', { keyrings: [{ name: 'pii', rotateEvery: '30d', sensitivity: 'high' }] });
 * stack.grantKeyringUse(ordersServiceRole, 'pii');
 */
export class RekeyStack extends Stack {
  /** The validated configuration the stack was built from. */
  public readonly config: ResolvedRekeyConfig;
  /** Keyring name → its KMS key construct. */
  public readonly keyrings: ReadonlyMap<string, KeyringKey>;
  /** Versioned, KMS-encrypted bucket of catalog documents (and sweep reports). */
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

  private readonly catalogReaders: iam.PolicyStatement;
  private readonly catalogWriters: iam.PolicyStatement;

  public constructor(scope: Construct, id: string, props: RekeyStackProps) {
    // Validate before a single construct exists: a bad prop fails synth with every problem listed.
    const config = resolveRekeyProps(Object.fromEntries(REKEY_CONFIG_KEYS.filter((k) => props[k] !== undefined).map((k) => [k, props[k]])));
    super(scope, id, props);
    this.config = config;
    const logRetention = config.logRetentionDays as logs.RetentionDays;

    // ---- storage and keys
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      ...secureBucketProps(),
      encryption: s3.BucketEncryption.S3_MANAGED,
      lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
    });
    this.opsKey = createManagedKey(this, 'OpsKey', 'rekey: catalog bucket, sweep reports and alarm topic');
    this.catalogBucket = new s3.Bucket(this, 'Catalog', {
      ...secureBucketProps(),
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.opsKey,
      bucketKeyEnabled: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'catalog/',
      lifecycleRules: [{ prefix: SWEEP_REPORT_PREFIX, expiration: Duration.days(90), noncurrentVersionExpiration: Duration.days(1) }],
    });
    // Catalog writes reach the key-access reconciler as EventBridge events (native, no custom resource).
    (this.catalogBucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
    this.catalogReaders = viaS3Statement('CatalogReaders', [], ['kms:Decrypt'], Aws.REGION);
    this.catalogWriters = viaS3Statement('CatalogWriters', [], ['kms:Decrypt', 'kms:GenerateDataKey'], Aws.REGION);

    this.escrowKey = createManagedKey(this, 'EscrowKey', 'rekey: wraps escrowed version keys and encrypts the escrow bucket');
    this.escrowBucket = new s3.Bucket(this, 'Escrow', {
      ...secureBucketProps(),
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.escrowKey,
      bucketKeyEnabled: true,
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(config.escrow.retentionDays)),
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'escrow/',
    });

    const keyrings = new Map<string, KeyringKey>();
    for (const k of config.keyrings) {
      keyrings.set(k.name, new KeyringKey(this, `Keyring-${k.name}`, { keyring: k.name, sensitivity: k.sensitivity }));
    }
    this.keyrings = keyrings;

    this.eventBus = new events.EventBus(this, 'Bus', { eventBusName: `${this.stackName}-events` });
    this.eventBus.archive('AuditArchive', {
      description: 'rekey audit events (who, what, which version, why) and the compromise reports they answer',
      // The audit sink's source and the compromise reports (shared/vocabulary/event-names.ts).
      eventPattern: { source: [...ARCHIVED_EVENT_SOURCES] },
      retention: Duration.days(365),
    });

    // ---- functions
    const network = this.cacheNetwork();
    const environment = this.functionEnvironment();
    const reserved = (n: number): { reserved?: number } => (config.reserveConcurrency ? { reserved: n } : {});
    const make = (name: FunctionName, extra: { reserved?: number; asyncInvoked?: boolean; env?: Record<string, string> } = {}): RekeyFunction =>
      new RekeyFunction(this, `Fn-${name}`, {
        name,
        entry: FUNCTION_ENTRIES[name],
        environment: { ...environment, POWERTOOLS_SERVICE_NAME: `rekey-${name}`, ...extra.env },
        logRetention,
        ...(extra.reserved === undefined ? {} : { reservedConcurrency: extra.reserved }),
        ...(network !== undefined && CACHE_FUNCTIONS.has(name) ? { network } : {}),
        ...(extra.asyncInvoked === undefined ? {} : { asyncInvoked: extra.asyncInvoked }),
      });
    // Rendered at synthesis, so grantees added later by grantKeyringUse are included.
    const grantees = Object.fromEntries([...keyrings].map(([name, key]) => [name, Lazy.list({ produce: () => [...key.granteeArns] })]));
    const fns: Record<FunctionName, RekeyFunction> = {
      rotate: make('rotate'),
      'grace-period': make('grace-period'),
      reencrypt: make('reencrypt', { asyncInvoked: false, ...reserved(config.sweep.maxConcurrency) }),
      'cache-invalidate': make('cache-invalidate'),
      escrow: make('escrow'),
      // Reserved so that a revocation always finds capacity, whatever else runs in the account.
      revoke: make('revoke', reserved(2)),
      // One at a time: the last run always reads the last catalog (see key-access/handler.ts).
      'key-access': make('key-access', { ...reserved(1), env: { [KEY_GRANTEES_ENV]: this.toJsonString(grantees) } }),
      // CloudFormation's custom resource provider of the keyrings (constructs/keyring-provisioning.ts).
      provision: make('provision'),
    };
    this.functions = fns;

    // ---- the sweep
    this.sweep = new SweepStateMachine(this, 'Sweep', {
      worker: fns.reencrypt.fn,
      targetBucketArns: [...new Set(config.recordTargets.map((t) => t.bucket))].map((b) => s3.Bucket.fromBucketName(this, `Target-${b}`, b).bucketArn),
      maxConcurrency: config.sweep.maxConcurrency,
      itemsPerBatch: config.sweep.itemsPerBatch,
      timeout: Duration.seconds(config.sweep.timeoutSeconds),
      reportBucket: this.catalogBucket,
      reportPrefix: SWEEP_REPORT_PREFIX,
      logRetention,
    });
    // Only revoke starts sweeps (a revoked version's re-encryption); the schedules start the routine ones.
    fns.revoke.fn.addEnvironment(ENV.sweepStateMachineArn, this.sweep.stateMachine.stateMachineArn);

    // ---- permissions (each function: exactly what its step needs)
    const catalogRW: FunctionName[] = ['rotate', 'grace-period', 'escrow', 'revoke', 'provision'];
    const catalogRO: FunctionName[] = ['reencrypt', 'cache-invalidate', 'key-access'];
    for (const name of catalogRW) this.allowCatalog(fns[name].role, 'write');
    for (const name of catalogRO) this.allowCatalog(fns[name].role, 'read');
    this.allowCatalogReports(this.sweep.stateMachine.role);
    for (const fn of Object.values(fns)) {
      fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [this.eventBus.eventBusArn] }));
    }
    for (const key of keyrings.values()) {
      // Who creates version keys (wrapped only): rotate, the reconciler's create-pending, the
      // revocation's replacement, and keyring creation's version 1 (access/function-access.ts).
      for (const name of VERSION_CREATORS) key.allowVersionGeneration(fns[name].role);
      key.allowReencryption(fns.reencrypt.role);
      // A small keyring is swept inline by revoke (REKEY_INLINE_SWEEP_LIMIT); it re-encrypts like the worker.
      key.allowReencryption(fns.revoke.role);
      key.allowGrantManagement(fns['key-access'].role);
      key.addGrantee(fns.escrow.role.roleArn);
    }
    this.allowRecordTargets(fns.reencrypt.role, 'write');
    this.allowRecordTargets(fns.revoke.role, 'write');
    this.allowRecordTargets(fns['grace-period'].role, 'read');
    this.sweep.stateMachine.grantStartExecution(fns.revoke.role);
    this.allowEscrow(fns.escrow.role);
    // The lifecycle's facts: a version is destroyed only once its escrow record exists (both
    // reconcile: grace-period on schedule, revoke to disable the revoked version).
    this.allowEscrowRead(fns['grace-period'].role);
    this.allowEscrowRead(fns.revoke.role);
    allowBreakerFacts(fns['grace-period'].role);
    if (config.cache !== undefined) {
      for (const name of CACHE_FUNCTIONS) this.allowCache(fns[name].role);
    }
    for (const arn of config.escrow.restoreRoleArns) this.allowEscrowRestore(new iam.ArnPrincipal(arn));
    this.opsKey.addToResourcePolicy(this.catalogReaders);
    this.opsKey.addToResourcePolicy(this.catalogWriters);

    // Application roles from props; more can be added with grantKeyringUse.
    config.keyrings.forEach((k) => {
      k.applicationRoleArns.forEach((arn, i) => this.grantKeyringUse(iam.Role.fromRoleArn(this, `App-${k.name}-${i}`, arn, { mutable: false }), k.name));
    });

    // ---- schedules and rules
    const schedulerDlq = new sqs.Queue(this, 'SchedulerDlq', deadLetterQueueProps());
    const ruleDlq = new sqs.Queue(this, 'CompromiseRuleDlq', deadLetterQueueProps());
    const invokeRole = (name: FunctionName): iam.Role =>
      schedulerRole(this, `SchedulerRole-${name}`, { action: 'lambda:InvokeFunction', arn: fns[name].fn.functionArn }, schedulerDlq, Aws.ACCOUNT_ID);
    const rotateRole = invokeRole('rotate');
    const graceRole = invokeRole('grace-period');
    const escrowRole = invokeRole('escrow');
    const cacheRole = invokeRole('cache-invalidate');
    const accessRole = invokeRole('key-access');
    const sweepRole = schedulerRole(this, 'SchedulerRole-sweep', { action: 'states:StartExecution', arn: this.sweep.stateMachine.stateMachineArn }, schedulerDlq, Aws.ACCOUNT_ID);
    const schedule = (sid: string, targetArn: string, role: iam.IRole, everySeconds: number, input: Record<string, unknown>, description: string, offsetMinutes = 0): void => {
      new ScheduledInvocation(this, sid, { targetArn, role, everySeconds, input, deadLetterQueue: schedulerDlq, description, offsetMinutes });
    };
    // Staggered (constructs/scheduled-invocation.ts): the schedules of one kind spread over their
    // interval, each kind a minute or more after the previous one, and the drills midway between
    // two archive runs (both run the escrow function).
    const s = config.schedules;
    const nk = config.keyrings.length;
    const offsets = {
      rotate: staggerOffsets(nk, s.rotationCheck, 0),
      grace: staggerOffsets(nk, s.gracePeriod, 1),
      archive: staggerOffsets(nk, s.escrowArchive, 2),
      drill: staggerOffsets(nk, s.escrowDrill, 2 + Math.floor(s.escrowArchive / 60 / (2 * Math.max(nk, 1)))),
      cache: staggerOffsets(nk, s.cacheInvalidate, 3),
      sweep: staggerOffsets(config.recordTargets.length, config.sweep.everySeconds, 0),
    };
    config.keyrings.forEach((k, ki) => {
      schedule(`Rotate-${k.name}`, fns.rotate.fn.functionArn, rotateRole, s.rotationCheck, { keyring: k.name }, `rekey: rotation check of ${k.name}`, offsets.rotate[ki]);
      schedule(`GracePeriod-${k.name}`, fns['grace-period'].fn.functionArn, graceRole, s.gracePeriod, { keyring: k.name }, `rekey: lifecycle reconciler of ${k.name}`, offsets.grace[ki]);
      schedule(`EscrowArchive-${k.name}`, fns.escrow.fn.functionArn, escrowRole, s.escrowArchive, { keyring: k.name, action: 'archive' }, `rekey: escrow archive of ${k.name}`, offsets.archive[ki]);
      schedule(`EscrowDrill-${k.name}`, fns.escrow.fn.functionArn, escrowRole, s.escrowDrill, { keyring: k.name, action: 'drill' }, `rekey: escrow restore drill of ${k.name}`, offsets.drill[ki]);
      // Without a cache the function refuses every run (VALIDATION): HandlerFailures would page hourly.
      if (config.cache !== undefined) {
        schedule(`CacheInvalidate-${k.name}`, fns['cache-invalidate'].fn.functionArn, cacheRole, s.cacheInvalidate, { keyring: k.name }, `rekey: cache invalidation of ${k.name}`, offsets.cache[ki]);
      }
    });
    schedule('KeyAccessSync', fns['key-access'].fn.functionArn, accessRole, config.schedules.keyAccessSync, {}, 'rekey: KMS grant reconciler (backstop)');
    config.recordTargets.forEach((t, i) => {
      schedule(`Sweep-${i}`, this.sweep.stateMachine.stateMachineArn, sweepRole, config.sweep.everySeconds, { keyring: t.keyring, bucket: t.bucket, prefix: t.prefix, mode: 'rewrap' }, `rekey: sweep s3://${t.bucket}/${t.prefix}`, offsets.sweep[i]);
    });

    const deliver = { deadLetterQueue: ruleDlq, retryAttempts: DELIVERY_RETRY.attempts, maxEventAge: DELIVERY_RETRY.maxEventAge };
    new events.Rule(this, 'KeyVersionCompromised', {
      description: 'rekey: emergency revocation of a compromised key version',
      eventBus: this.eventBus,
      eventPattern: {
        source: [COMPROMISE_EVENT_SOURCE],
        detailType: [COMPROMISE_EVENT_DETAIL_TYPE],
        detail: { keyring: config.keyrings.map((k) => k.name), version: [{ numeric: ['>', 0] }], reason: [{ exists: true }] },
      },
      targets: [new targets.LambdaFunction(fns.revoke.fn, deliver), new targets.LambdaFunction(fns['key-access'].fn, deliver)],
    });
    new events.Rule(this, 'CatalogWritten', {
      description: 'rekey: reconcile KMS grants after every catalog write',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [this.catalogBucket.bucketName] }, object: { key: [{ prefix: config.catalogPrefix }] } },
      },
      targets: [new targets.LambdaFunction(fns['key-access'].fn, deliver)],
    });

    // ---- keyrings exist on deploy (created with their policy, policy kept in step, never deleted)
    this.provisioning = new KeyringProvisioning(this, 'Keyrings', {
      provider: fns.provision.fn,
      keyrings: config.keyrings,
      // Its permissions first; and the grant reconciler wired to the first catalog write.
      dependsOn: [fns.provision.role, this.catalogBucket, this.node.findChild('CatalogWritten'), fns['key-access'].fn],
    });

    // Operators of the CLI's AWS mode (status, rotate, freeze, unfreeze, revoke, escrow verify).
    config.operatorRoleArns.forEach((arn, i) => this.grantOperatorAccess(iam.Role.fromRoleArn(this, `Operator-${i}`, arn, { mutable: false })));

    // ---- alarms, dashboard
    this.alarmTopic = this.createAlarmTopic();
    const queues: Record<string, sqs.IQueue> = { 'scheduler-dlq': schedulerDlq, 'compromise-rule-dlq': ruleDlq };
    for (const [name, fn] of Object.entries(fns)) {
      if (fn.failureQueue !== undefined) queues[`${name}-failures`] = fn.failureQueue;
    }
    this.monitoring = new Monitoring(this, 'Monitoring', {
      topic: this.alarmTopic,
      keyrings: config.keyrings,
      queues,
      functions: Object.fromEntries(Object.entries(fns).map(([n, f]) => [n, f.fn as lambda.IFunction])),
      sweep: this.sweep.stateMachine,
      sweepEverySeconds: config.sweep.everySeconds,
      gracePeriodEverySeconds: config.schedules.gracePeriod,
      escrowDrillEverySeconds: config.schedules.escrowDrill,
      dashboardName: `${this.stackName}-rekey`,
    });

    this.addOutputs(environment);
  }

  /**
   * Lets an application role use a keyring: read its catalog document, and decrypt its readable
   * versions through per-version KMS grants (created by the key-access function; revoked with
   * the version). Works for roles of this stack, imported roles and roles of other accounts
   * (those also need an identity policy on their side).
   *
   * @example
   * stack.grantKeyringUse(iam.Role.fromRoleArn(stack, 'Orders', 'arn:aws:iam::123456789012:role/orders'), 'pii');
   * @throws UnknownKeyringError when the stack has no such keyring.
   */
  public grantKeyringUse(role: iam.IRole, keyring: string): void {
    const key = this.keyrings.get(keyring);
    if (key === undefined) throw new UnknownKeyringError(keyring);
    key.addGrantee(role.roleArn);
    const principal = new iam.ArnPrincipal(role.roleArn);
    const document = this.catalogBucket.arnForObjects(`${this.config.catalogPrefix}${keyring}.json`);
    this.catalogBucket.addToResourcePolicy(
      new iam.PolicyStatement({ sid: `ReadCatalog${keyring.replace(/[^A-Za-z0-9]/g, '')}${key.granteeArns.length}`, principals: [principal], actions: ['s3:GetObject'], resources: [document] }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [document] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [this.opsKey.keyArn] }));
    this.catalogReaders.addPrincipals(principal);
  }

  /**
   * Lets an operator role run the CLI's AWS mode (cli/aws-commands.ts): read the stack outputs,
   * read the catalogs and write them (freeze, unfreeze), invoke the rotate and escrow functions,
   * put `Key Version Compromised` events (revoke) and the audit events of its own freezes. No key
   * material: no keyring key, no escrow key. Resource policies (bucket, ops key, bus, function
   * permissions) make it work for imported roles of this account; the identity statements take
   * effect only on roles this app owns (other roles need them on their side: docs/deploy.md).
   *
   * @example
   * stack.grantOperatorAccess(iam.Role.fromRoleArn(stack, 'Ops', 'arn:aws:iam::123456789012:role/rekey-operator'));
   */
  public grantOperatorAccess(role: iam.IRole): void {
    grantOperatorAccess(
      {
        stack: this,
        catalogBucket: this.catalogBucket,
        catalogPrefix: this.config.catalogPrefix,
        opsKey: this.opsKey,
        catalogWriters: this.catalogWriters,
        eventBus: this.eventBus,
        invoked: [this.functions.rotate.fn, this.functions.escrow.fn],
        recordTargets: this.config.recordTargets,
      },
      role,
    );
  }

  private allowCatalog(role: iam.IRole, access: 'read' | 'write'): void {
    const prefix = this.config.catalogPrefix;
    const objects = this.catalogBucket.arnForObjects(`${prefix}*`);
    const s3Actions = catalogActions(access);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: s3Actions.objects, resources: [objects] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: s3Actions.bucket,
        resources: [this.catalogBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
      }),
    );
    const actions = access === 'write' ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'];
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [this.opsKey.keyArn] }));
    (access === 'write' ? this.catalogWriters : this.catalogReaders).addPrincipals(role);
  }

  private allowCatalogReports(role: iam.IRole): void {
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [this.opsKey.keyArn] }));
    this.catalogWriters.addPrincipals(role);
  }

  private allowRecordTargets(role: iam.IRole, access: 'read' | 'write'): void {
    const actions = recordTargetActions(access);
    this.config.recordTargets.forEach((t) => {
      const bucketArn = `arn:${Aws.PARTITION}:s3:::${t.bucket}`;
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: actions.objects, resources: [`${bucketArn}/${t.prefix}*`] }));
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: actions.bucket, resources: [bucketArn], conditions: { StringLike: { 's3:prefix': [`${t.prefix}*`] } } }),
      );
      if (t.bucketKmsKeyArn !== undefined) {
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: actions.bucketKey,
            resources: [t.bucketKmsKeyArn],
            conditions: { StringEquals: { 'kms:ViaService': `s3.${Aws.REGION}.amazonaws.com` } },
          }),
        );
      }
    });
  }

  private allowEscrow(role: iam.IRole): void {
    const s3Actions = escrowActions('write');
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: s3Actions.objects, resources: [this.escrowBucket.arnForObjects('*')] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: s3Actions.bucket, resources: [this.escrowBucket.bucketArn] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'], resources: [this.escrowKey.keyArn] }));
    this.escrowKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EscrowWrapAndDrill',
        principals: [role],
        actions: ['kms:Encrypt', 'kms:Decrypt'],
        resources: ['*'],
        // Escrow wraps carry an encryption context (keyring, version); a bare call is refused.
        conditions: { Null: { 'kms:EncryptionContext:keyring': 'false' } },
      }),
    );
    this.escrowKey.addToResourcePolicy(viaS3Statement('EscrowBucketObjects', [role], ['kms:Decrypt', 'kms:GenerateDataKey'], Aws.REGION));
  }

  /**
   * Lets a reconciler check that a version's escrow record exists (S3EscrowStore.get): the
   * record objects through S3 only; it cannot unwrap them (no EscrowWrapAndDrill).
   */
  private allowEscrowRead(role: iam.IRole): void {
    const s3Actions = escrowActions('read');
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: s3Actions.objects, resources: [this.escrowBucket.arnForObjects('*')] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: s3Actions.bucket, resources: [this.escrowBucket.bucketArn] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [this.escrowKey.keyArn] }));
    this.escrowKey.addToResourcePolicy(viaS3Statement(`EscrowBucketReader${Names.uniqueId(role).slice(-48)}`, [role], ['kms:Decrypt'], Aws.REGION));
  }

  private allowEscrowRestore(principal: iam.ArnPrincipal): void {
    const sid = `EscrowRestore${principal.arn.replace(/[^A-Za-z0-9]/g, '').slice(-40)}`;
    this.escrowKey.addToResourcePolicy(
      new iam.PolicyStatement({ sid, principals: [principal], actions: ['kms:Decrypt'], resources: ['*'], conditions: { Null: { 'kms:EncryptionContext:keyring': 'false' } } }),
    );
    this.escrowKey.addToResourcePolicy(viaS3Statement(`${sid}Objects`, [principal], ['kms:Decrypt'], Aws.REGION));
    this.escrowBucket.addToResourcePolicy(
      new iam.PolicyStatement({ sid, principals: [principal], actions: ['s3:GetObject', 's3:ListBucket'], resources: [this.escrowBucket.bucketArn, this.escrowBucket.arnForObjects('*')] }),
    );
  }

  private allowCache(role: iam.IRole): void {
    const cache = this.config.cache;
    if (cache === undefined) return;
    const arn = (resource: string): string => `arn:${Aws.PARTITION}:elasticache:${Aws.REGION}:${Aws.ACCOUNT_ID}:${resource}`;
    const caches = [arn(`replicationgroup:${cache.name}`), arn(`serverlesscache:${cache.name}`)];
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['elasticache:DescribeReplicationGroups', 'elasticache:DescribeServerlessCaches'], resources: caches }),
    );
    if (cache.iamUser !== undefined) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['elasticache:Connect'], resources: [...caches, arn(`user:${cache.iamUser}`)] }));
    }
  }

  private cacheNetwork(): FunctionNetwork | undefined {
    const cache = this.config.cache;
    if (cache === undefined) return undefined;
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'CacheVpc', { vpcId: cache.vpcId, availabilityZones: [...cache.availabilityZones] });
    return {
      vpc,
      subnets: cache.subnetIds.map((subnetId, i) => ec2.Subnet.fromSubnetAttributes(this, `CacheSubnet${i}`, { subnetId, availabilityZone: cache.availabilityZones[i] ?? '' })),
      securityGroups: cache.securityGroupIds.map((sg, i) => ec2.SecurityGroup.fromSecurityGroupId(this, `CacheSg${i}`, sg, { mutable: false })),
    };
  }

  private functionEnvironment(): Record<string, string> {
    const keyringKeys = Object.fromEntries([...this.keyrings].map(([name, k]) => [name, k.key.keyArn]));
    return {
      [ENV.catalogBucket]: this.catalogBucket.bucketName,
      [ENV.catalogPrefix]: this.config.catalogPrefix,
      [ENV.keyringKeys]: this.toJsonString(keyringKeys),
      [ENV.escrowBucket]: this.escrowBucket.bucketName,
      [ENV.escrowKeyArn]: this.escrowKey.keyArn,
      [ENV.recordTargets]: JSON.stringify(this.config.recordTargets.map((t) => ({ keyring: t.keyring, bucket: t.bucket, prefix: t.prefix }))),
      [ENV.eventBusName]: this.eventBus.eventBusName,
      [ENV.breakerThreshold]: String(this.config.breakerThreshold),
      // The escrow store locks each record this long; it must match the bucket's default retention.
      [ENV.escrowRetentionDays]: String(this.config.escrow.retentionDays),
      ...(this.config.cache === undefined ? {} : { [ENV.cacheName]: this.config.cache.name }),
      ...(this.config.cache?.iamUser === undefined ? {} : { [ENV.cacheIamUser]: this.config.cache.iamUser }),
      POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
    };
  }

  private createAlarmTopic(): sns.ITopic {
    const alarms = this.config.alarms;
    if (alarms.topicArn !== undefined) return sns.Topic.fromTopicArn(this, 'AlarmTopic', alarms.topicArn);
    const topic = new sns.Topic(this, 'AlarmTopic', { masterKey: this.opsKey, enforceSSL: true, displayName: 'rekey alarms' });
    // enforceSSL gives the topic a policy holding only the TLS deny; CloudWatch needs its own
    // allow to publish, limited to this account's alarms (confused deputy). Amazon CloudWatch
    // User Guide, "Notifying users on alarm changes" / re:Post "Why didn't I receive an SNS
    // notification for my CloudWatch alarm trigger?" (statement Allow_Publish_Alarms).
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*` },
        },
      }),
    );
    // The topic is SSE-KMS: the publishing service needs Decrypt and GenerateDataKey* on its key
    // (Amazon SNS Developer Guide, "Key management", "Enable compatibility between event sources
    // from AWS services and encrypted topics").
    this.opsKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
    if (alarms.email !== undefined) topic.addSubscription(new subscriptions.EmailSubscription(alarms.email));
    return topic;
  }

  private addOutputs(environment: Record<string, string>): void {
    const out = (key: StackOutputKey, value: string, description: string): void => {
      new CfnOutput(this, key, { value, description });
    };
    out('CatalogBucket', this.catalogBucket.bucketName, 'Bucket of catalog documents');
    out('CatalogPrefix', this.config.catalogPrefix, 'Key prefix of catalog documents');
    out('KeyringKeys', environment[ENV.keyringKeys] ?? '{}', 'JSON: keyring -> KMS key ARN');
    out('EscrowBucket', this.escrowBucket.bucketName, 'Object Lock bucket of escrow records');
    out('EscrowKeyArn', this.escrowKey.keyArn, 'KMS key wrapping escrowed version keys');
    out('RecordTargets', environment[ENV.recordTargets] ?? '[]', 'JSON: record targets the sweep covers');
    out('EventBusName', this.eventBus.eventBusName, 'Bus for audit events and Key Version Compromised');
    out('SweepStateMachineArn', this.sweep.stateMachine.stateMachineArn, 'Re-encryption sweep (Distributed Map)');
    out('BreakerThreshold', String(this.config.breakerThreshold), 'Decrypt-failure ratio that trips the circuit breaker');
    if (this.config.cache !== undefined) out('CacheName', this.config.cache.name, 'ElastiCache holding the encrypted cache');
    out('FunctionNames', this.toJsonString(Object.fromEntries(Object.entries(this.functions).map(([n, f]) => [n, f.fn.functionName]))), 'JSON: rekey function -> Lambda name');
    out('AlarmTopicArn', this.alarmTopic.topicArn, 'SNS topic of rekey alarms');
  }
}
