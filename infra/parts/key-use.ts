/**
 * Observed key use on AWS: a rule on the account's default bus receives every successful KMS
 * `Decrypt` of a keyring key as CloudTrail delivers it, and hands it to the key-use function,
 * which records the version's last use in the state bucket (shared/adapters/aws/s3-key-use-log.ts).
 * The reconcilers (grace-period, revoke) read that log before a version stops decrypting, and
 * start it when a keyring has none. Decrypt is a read-only management event: a rule receives it
 * only in state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS ("Receiving read-only management
 * events from AWS services", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail-management.html),
 * which the L2 Rule does not offer: set on the L1 CfnRule. Built in the stack's scope (see storage.ts for why).
 */
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Names, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { KEY_USE_IGNORED_ROLES_ENV, KEY_USE_PREFIX, KMS_DECRYPT_VIA_CLOUDTRAIL } from '../../shared/vocabulary/key-use-names';
import type { KeyringKey } from '../constructs/keyring-key';
import type { RekeyFunction } from '../constructs/rekey-function';
import { DELIVERY_RETRY, deadLetterQueueProps, type FunctionName } from '../defaults';
import type { RekeyStorage } from './storage';

/** The rule state that also delivers read-only CloudTrail management events (AWS::Events::Rule State). */
export const ALL_MANAGEMENT_EVENTS_STATE = 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS';

/** Functions that read the key-use log as lifecycle evidence and may start it (S3KeyUseLog startOnRead). */
export const KEY_USE_READERS: readonly FunctionName[] = ['grace-period', 'revoke'];

/** What the key-use part is built from. */
export interface KeyUseObservationProps {
  readonly storage: RekeyStorage;
  readonly keyrings: ReadonlyMap<string, KeyringKey>;
  readonly functions: Readonly<Record<FunctionName, RekeyFunction>>;
}

/**
 * The rule, its dead-letter queue, and the access of the key-use function and the log's readers.
 *
 * @example
 * const keyUse = new KeyUseObservation(stack, { storage, keyrings, functions });
 * keyUse.deadLetterQueue; // alarmed with the other rule DLQs
 */
export class KeyUseObservation {
  /** Dead-letter queue of the rule's target (events whose delivery failed every retry). */
  public readonly deadLetterQueue: sqs.Queue;
  /** The rule on the default bus. */
  public readonly rule: events.Rule;

  public constructor(scope: Construct, props: KeyUseObservationProps) {
    const { storage, keyrings, functions: fns } = props;
    const fn = fns['key-use'];
    this.deadLetterQueue = new sqs.Queue(scope, 'KeyUseRuleDlq', deadLetterQueueProps());
    this.rule = new events.Rule(scope, 'KeyVersionUsed', {
      description: 'rekey: a KMS Decrypt of a keyring key (CloudTrail) becomes the version last use',
      eventPattern: {
        source: [KMS_DECRYPT_VIA_CLOUDTRAIL.source],
        detailType: [KMS_DECRYPT_VIA_CLOUDTRAIL.detailType],
        detail: {
          eventSource: [KMS_DECRYPT_VIA_CLOUDTRAIL.eventSource],
          eventName: [KMS_DECRYPT_VIA_CLOUDTRAIL.eventName],
          // The CloudTrail record's resources: [{ ARN, type: AWS::KMS::Key }] (ct-decrypt.html).
          resources: { ARN: [...keyrings.values()].map((k) => k.key.keyArn) },
          // A failed call (AccessDenied, a revoked grant) unwrapped nothing.
          errorCode: [{ exists: false }],
          requestParameters: { encryptionContext: { keyring: [...keyrings.keys()], version: [{ exists: true }] } },
        },
      },
      targets: [new targets.LambdaFunction(fn.fn, { deadLetterQueue: this.deadLetterQueue, retryAttempts: DELIVERY_RETRY.attempts, maxEventAge: DELIVERY_RETRY.maxEventAge })],
    });
    (this.rule.node.defaultChild as events.CfnRule).state = ALL_MANAGEMENT_EVENTS_STATE;

    // The escrow role's unwraps are rekey's own bookkeeping, not use by a reader of the data.
    fn.fn.addEnvironment(KEY_USE_IGNORED_ROLES_ENV, Stack.of(scope).toJsonString([fns.escrow.role.roleArn]));

    // The log: GetObject and conditional PutObject of key-use/<keyring>.json, under the ops key
    // through S3 (the bucket's default encryption), nothing else of the bucket.
    const documents = storage.catalogBucket.arnForObjects(`${KEY_USE_PREFIX}*`);
    const writeLog = (role: iam.IRole): void => {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [documents] }));
    };
    writeLog(fn.role);
    fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [storage.opsKey.keyArn] }));
    storage.catalogWriters.addPrincipals(fn.role);
    // Readers are catalog writers already (ops key through S3 on both sides): only reading the
    // documents. They never start a log (observation begins with the first recorded event).
    for (const name of KEY_USE_READERS) fns[name].role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [documents] }));
    this.documents = documents;
    this.bucket = storage.catalogBucket;
  }

  private readonly documents: string;
  private readonly bucket: RekeyStorage['catalogBucket'];

  /**
   * Lets an operator role read the key-use documents (`rekey --aws status` shows last use), on
   * both sides (bucket policy and identity), like its catalog access; the ops key it has already.
   *
   * @example
   * keyUse.grantRead(iam.Role.fromRoleArn(stack, 'Ops', arn, { mutable: false }));
   */
  public grantRead(role: iam.IRole): void {
    const tag = Names.uniqueId(role).replace(/[^A-Za-z0-9]/g, '').slice(-40);
    this.bucket.addToResourcePolicy(new iam.PolicyStatement({ sid: `OperatorKeyUse${tag}`, principals: [new iam.ArnPrincipal(role.roleArn)], actions: ['s3:GetObject'], resources: [this.documents] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.documents] }));
  }
}
