/**
 * The one-command rekey stack (infra/app.ts): a Stack holding one {@link Rekey} under the id
 * `Default`, which CDK leaves out of logical ids, so a stack deployed before the construct
 * existed keeps every logical id (no resource is replaced). Its members delegate to the Rekey.
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { IRekeyKeyring } from './consumer';
import type { KeyringKey } from './constructs/keyring-key';
import type { KeyringProvisioning } from './constructs/keyring-provisioning';
import type { Monitoring } from './constructs/monitoring';
import type { RekeyFunction } from './constructs/rekey-function';
import type { SweepStateMachine } from './constructs/sweep-state-machine';
import type { FunctionName } from './defaults';
import { REKEY_CONFIG_KEYS, resolveRekeyProps, type RekeyConfigProps, type ResolvedRekeyConfig } from './props';
import { Rekey } from './rekey';

/** Props of {@link RekeyStack}: the rekey configuration plus ordinary stack props. */
export interface RekeyStackProps extends StackProps, RekeyConfigProps {}

/** Id of the stack's Rekey: CDK omits `Default` from logical ids, which keeps them as they were. */
export const REKEY_STACK_CONSTRUCT_ID = 'Default';

/**
 * Everything rekey runs on AWS, in one stack.
 *
 * @example
 * const stack = new RekeyStack(app, 'Rekey', { keyrings: [{ name: 'pii', rotateEvery: '30d', sensitivity: 'high' }] });
 * stack.keyring('pii').grantEncryptDecrypt(ordersServiceRole);
 */
export class RekeyStack extends Stack {
  /** The construct holding everything (`Default`). */
  public readonly rekey: Rekey;

  public constructor(scope: Construct, id: string, props: RekeyStackProps) {
    // Validate before a single construct exists: a bad prop fails synth with every problem listed.
    const configProps = Object.fromEntries(REKEY_CONFIG_KEYS.filter((k) => props[k] !== undefined).map((k) => [k, props[k]])) as RekeyConfigProps;
    resolveRekeyProps(configProps);
    super(scope, id, props);
    this.rekey = new Rekey(this, REKEY_STACK_CONSTRUCT_ID, configProps);
  }

  /** The validated configuration the stack was built from. */
  public get config(): ResolvedRekeyConfig {
    return this.rekey.config;
  }

  /** Keyring name → its KMS key construct. */
  public get keyrings(): ReadonlyMap<string, KeyringKey> {
    return this.rekey.keyrings;
  }

  /** Versioned, KMS-encrypted bucket of catalog documents (and sweep reports). */
  public get catalogBucket(): s3.Bucket {
    return this.rekey.catalogBucket;
  }

  /** Object Lock (compliance) bucket of escrow records. */
  public get escrowBucket(): s3.Bucket {
    return this.rekey.escrowBucket;
  }

  /** The separate key wrapping escrowed version keys. */
  public get escrowKey(): kms.Key {
    return this.rekey.escrowKey;
  }

  /** Key of the catalog bucket, sweep reports and alarm topic. */
  public get opsKey(): kms.Key {
    return this.rekey.opsKey;
  }

  /** Bus for rekey's audit events and `Key Version Compromised`. */
  public get eventBus(): events.EventBus {
    return this.rekey.eventBus;
  }

  /** The functions, by rekey name. */
  public get functions(): Readonly<Record<FunctionName, RekeyFunction>> {
    return this.rekey.functions;
  }

  /** The re-encryption sweep. */
  public get sweep(): SweepStateMachine {
    return this.rekey.sweep;
  }

  /** Where alarms go. */
  public get alarmTopic(): sns.ITopic {
    return this.rekey.alarmTopic;
  }

  /** Alarms and dashboard. */
  public get monitoring(): Monitoring {
    return this.rekey.monitoring;
  }

  /** The keyrings' custom resources (created on deploy by the provision function). */
  public get provisioning(): KeyringProvisioning {
    return this.rekey.provisioning;
  }

  /**
   * One keyring (see {@link Rekey.keyring}).
   *
   * @example
   * stack.keyring('pii').grantDecrypt(reportsFunction);
   */
  public keyring(name: string): IRekeyKeyring {
    return this.rekey.keyring(name);
  }

  /**
   * Lets an application role use a keyring (see {@link Rekey.grantKeyringUse}).
   *
   * @deprecated Use `keyring(name).grantEncryptDecrypt(grantee)`, which takes any IGrantable and returns the iam.Grant.
   * @example
   * stack.grantKeyringUse(iam.Role.fromRoleArn(stack, 'Orders', 'arn:aws:iam::123456789012:role/orders'), 'pii');
   * @throws UnknownKeyringError when the stack has no such keyring.
   */
  public grantKeyringUse(role: iam.IRole, keyring: string): void {
    this.rekey.keyring(keyring).grantEncryptDecrypt(role);
  }

  /**
   * Lets an operator role run the CLI's AWS mode (see {@link Rekey.grantOperatorAccess}).
   *
   * @example
   * stack.grantOperatorAccess(iam.Role.fromRoleArn(stack, 'Ops', 'arn:aws:iam::123456789012:role/rekey-operator'));
   */
  public grantOperatorAccess(role: iam.IRole): void {
    this.rekey.grantOperatorAccess(role);
  }
}
