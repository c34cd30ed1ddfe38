/**
 * The one rekey stack, composed of its parts (infra/parts/): storage (buckets and their keys),
 * keyring keys, events (bus, archive, rules), functions and the sweep, their permissions,
 * schedules, keyring provisioning, operator access, alarms, dashboard and outputs. Secure
 * defaults live in defaults.ts, validation in props.ts, building blocks in constructs/.
 */
import { Names, Stack, type StackProps } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { UnknownKeyringError } from '../shared/errors';
import { grantOperatorAccess } from './access/operator-access';
import { KeyringKey } from './constructs/keyring-key';
import { KeyringProvisioning } from './constructs/keyring-provisioning';
import { Monitoring } from './constructs/monitoring';
import type { RekeyFunction } from './constructs/rekey-function';
import type { SweepStateMachine } from './constructs/sweep-state-machine';
import type { FunctionName } from './defaults';
import { createAlarmTopic } from './parts/alarm-topic';
import { EventRoutes, createEventBus } from './parts/events';
import { KeyAdministrationAlarms, keyAdministrators, restrictCompromiseReports } from './parts/key-administration';
import { grantFunctionPermissions } from './parts/function-permissions';
import { KeyUseObservation } from './parts/key-use';
import { RekeyFunctions } from './parts/functions';
import { RekeySchedules } from './parts/schedules';
import { addStackOutputs } from './parts/stack-outputs';
import { RekeyStorage } from './parts/storage';
import { REKEY_CONFIG_KEYS, resolveRekeyProps, type RekeyConfigProps, type ResolvedRekeyConfig } from './props';

/** Props of {@link RekeyStack}: the rekey configuration plus ordinary stack props. */
export interface RekeyStackProps extends StackProps, RekeyConfigProps {}

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

  private readonly storage: RekeyStorage;
  /** Observed key use (CloudTrail → key-use function → the state bucket). */
  private readonly keyUse: KeyUseObservation;

  public constructor(scope: Construct, id: string, props: RekeyStackProps) {
    // Validate before a single construct exists: a bad prop fails synth with every problem listed.
    const config = resolveRekeyProps(Object.fromEntries(REKEY_CONFIG_KEYS.filter((k) => props[k] !== undefined).map((k) => [k, props[k]])));
    super(scope, id, props);
    this.config = config;

    // Key administration: the deploying role and the break-glass role, never the account at large.
    const administrators = keyAdministrators(this, config);
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
    // Application roles from props; more can be added with grantKeyringUse.
    config.keyrings.forEach((k) => k.applicationRoleArns.forEach((arn, i) => this.grantKeyringUse(iam.Role.fromRoleArn(this, `App-${k.name}-${i}`, arn, { mutable: false }), k.name)));

    const schedules = new RekeySchedules(this, { config, functions: fns, sweep: this.sweep });
    const routes = new EventRoutes(this, { config, eventBus: this.eventBus, functions: fns, catalogBucket: this.catalogBucket });
    const keyUse = (this.keyUse = new KeyUseObservation(this, { storage: this.storage, keyrings: this.keyrings, functions: fns }));

    // Keyrings exist on deploy (created with their policy, policy kept in step, never deleted): after
    // the provider's permissions, and once the grant reconciler is wired to the first catalog write.
    const dependsOn = [fns.provision.role, this.catalogBucket, routes.catalogWritten, fns['key-access'].fn];
    this.provisioning = new KeyringProvisioning(this, 'Keyrings', { provider: fns.provision.fn, keyrings: config.keyrings, dependsOn });

    // Operators of the CLI's AWS mode (status, rotate, freeze, unfreeze, revoke, escrow verify).
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
      queues: { 'scheduler-dlq': schedules.deadLetterQueue, 'compromise-rule-dlq': routes.deadLetterQueue, 'key-use-rule-dlq': keyUse.deadLetterQueue, ...Object.fromEntries(failureQueues) },
      functions: Object.fromEntries(Object.entries(fns).map(([n, f]) => [n, f.fn])),
      sweep: this.sweep.stateMachine,
      sweepEverySeconds: config.sweep.everySeconds,
      gracePeriodEverySeconds: config.schedules.gracePeriod,
      escrowDrillEverySeconds: config.schedules.escrowDrill,
      dashboardName: `${this.stackName}-rekey`,
    });

    const { catalogBucket, escrowBucket, escrowKey, eventBus, sweep, alarmTopic } = this;
    addStackOutputs(this, { config, environment: built.environment, catalogBucket, escrowBucket, escrowKey, eventBus, sweep, functions: fns, alarmTopic });
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
    this.storage.grantCatalogDocumentRead(role, keyring, `ReadCatalog${keyring.replace(/[^A-Za-z0-9]/g, '')}${key.granteeArns.length}`);
  }

  /**
   * Lets an operator role run the CLI's AWS mode (cli/aws-commands.ts): outputs, catalogs (read,
   * freeze, unfreeze), invoke rotate and escrow, put compromise reports and its freezes' audit
   * events; no key material. What it gets, and on which side, is in access/operator-access.ts.
   *
   * @example
   * stack.grantOperatorAccess(iam.Role.fromRoleArn(stack, 'Ops', 'arn:aws:iam::123456789012:role/rekey-operator'));
   */
  public grantOperatorAccess(role: iam.IRole): void {
    const { catalogBucket, opsKey, catalogWriters } = this.storage;
    const invoked = [this.functions.rotate.fn, this.functions.escrow.fn];
    this.keyUse.grantRead(role);
    grantOperatorAccess({ stack: this, catalogBucket, catalogPrefix: this.config.catalogPrefix, opsKey, catalogWriters, eventBus: this.eventBus, invoked, recordTargets: this.config.recordTargets }, role);
    // Status, freeze and unfreeze read the catalog through the revocation ledger, on both sides.
    this.storage.grantLedgerRead(role, `OperatorLedger${Names.uniqueId(role).replace(/[^A-Za-z0-9]/g, '').slice(-40)}`);
  }
}
