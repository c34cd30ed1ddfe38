/**
 * Who may administer the stack's keys and who may report a compromise, and the alarms that
 * watch both:
 *
 * - {@link keyAdministrators}: the deploying role (the CDK bootstrap's CloudFormation execution
 *   role, or `deployRoleArn`) and the optional `breakGlassRoleArn`; nobody else holds
 *   PutKeyPolicy, ScheduleKeyDeletion or DisableKey on a rekey key (constructs/key-policy.ts);
 * - {@link restrictCompromiseReports}: the bus policy that denies `Key Version Compromised` to
 *   every principal but the configured security principals;
 * - {@link KeyAdministrationAlarms}: EventBridge rules on CloudTrail's "AWS API Call via
 *   CloudTrail" events of the stack's keys, to the alarm topic: any key-administration call
 *   (allowed or denied) and any CreateGrant on a keyring key not made by the key-access role.
 */
import { Aws, DefaultStackSynthesizer, Fn, type Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ValidationError } from '../../shared/errors';
import { COMPROMISE_EVENT_DETAIL_TYPE, COMPROMISE_EVENT_SOURCE } from '../../shared/vocabulary/event-names';
import type { KeyAdministrators } from '../constructs/key-policy';
import { DELIVERY_RETRY } from '../defaults';
import type { ResolvedRekeyConfig } from '../props';

/**
 * KMS calls that change who may use a key or whether it exists, each alarmed on the stack's keys
 * ("Logging AWS KMS API calls with AWS CloudTrail", AWS KMS Developer Guide). CancelKeyDeletion,
 * EnableKey and the rotation switches undo a protection as surely as the first three.
 */
export const ALARMED_KEY_ADMIN_CALLS = [
  'PutKeyPolicy',
  'ScheduleKeyDeletion',
  'CancelKeyDeletion',
  'DisableKey',
  'EnableKey',
  'DisableKeyRotation',
  'UpdatePrimaryRegion',
  'ReplicateKey',
] as const;

/** detail-type of every CloudTrail API call event on EventBridge. */
export const CLOUDTRAIL_API_CALL = 'AWS API Call via CloudTrail';

/**
 * The roles that administer the stack's keys: `deployRoleArn`, else the DefaultStackSynthesizer's
 * CloudFormation execution role (the role CloudFormation creates and updates the keys as, which
 * the KMS lockout safety check requires to keep PutKeyPolicy), then the break-glass role.
 *
 * @throws ValidationError when the synthesizer names no execution role and no deployRoleArn is set.
 * @example
 * const admins = keyAdministrators(stack, config); // { roleArns: ['arn:...:role/cdk-hnb659fds-cfn-exec-role-...'] }
 */
export function keyAdministrators(stack: Stack, config: ResolvedRekeyConfig): KeyAdministrators {
  const synthesizer = stack.synthesizer;
  const bootstrap = synthesizer instanceof DefaultStackSynthesizer ? synthesizer.cloudFormationExecutionRoleArn : undefined;
  // An environment-agnostic stack keeps ${AWS::AccountId} / ${AWS::Region} placeholders in the
  // bootstrap role's ARN: CloudFormation resolves them only inside Fn::Sub.
  const deploying = config.deployRoleArn ?? (bootstrap !== undefined && bootstrap.includes('${') ? Fn.sub(bootstrap) : bootstrap);
  if (deploying === undefined) {
    throw new ValidationError('invalid rekey props: deployRoleArn: required when the stack synthesizer names no CloudFormation execution role');
  }
  return { roleArns: [deploying, ...(config.breakGlassRoleArn === undefined ? [] : [config.breakGlassRoleArn])] };
}

/**
 * The bus policy of compromise reports: an explicit Deny of events:PutEvents for the detail-type
 * `Key Version Compromised` unless `aws:PrincipalArn` is a security principal (an explicit deny
 * in the resource policy wins over any identity policy, a function role's PutEvents on the bus
 * included), and the Allow those principals need on the bus side. `events:detail-type` is a
 * condition key of PutEvents ("Using IAM policy conditions in Amazon EventBridge",
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html), multivalued
 * (one value per entry), hence `ForAnyValue`: one such entry in a batch denies the request.
 * With no security principal at all, nobody may send the report.
 *
 * @example
 * restrictCompromiseReports(eventBus, config.securityPrincipalArns);
 */
export function restrictCompromiseReports(eventBus: events.EventBus, securityPrincipalArns: readonly string[]): void {
  const compromise = { 'ForAnyValue:StringEquals': { 'events:detail-type': [COMPROMISE_EVENT_DETAIL_TYPE] } };
  eventBus.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'OnlySecurityPrincipalsReportCompromise',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['events:PutEvents'],
      resources: [eventBus.eventBusArn],
      conditions: securityPrincipalArns.length === 0 ? compromise : { ...compromise, ArnNotEquals: { 'aws:PrincipalArn': [...securityPrincipalArns] } },
    }),
  );
  if (securityPrincipalArns.length === 0) return;
  eventBus.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'SecurityPrincipalsReportCompromise',
      principals: securityPrincipalArns.map((arn) => new iam.ArnPrincipal(arn)),
      actions: ['events:PutEvents'],
      resources: [eventBus.eventBusArn],
      conditions: { 'ForAnyValue:StringEquals': { 'events:source': [COMPROMISE_EVENT_SOURCE], 'events:detail-type': [COMPROMISE_EVENT_DETAIL_TYPE] } },
    }),
  );
}

/** What the key-administration alarms watch and where they deliver. */
export interface KeyAdministrationAlarmsProps {
  /** Every key of the stack (keyrings, ops, escrow). */
  readonly keys: readonly kms.IKey[];
  /** The keyring keys, on which only the key-access role creates grants. */
  readonly keyringKeys: readonly kms.IKey[];
  readonly keyAccessRole: iam.IRole;
  readonly topic: sns.ITopic;
  /** The topic's key (SSE-KMS), which EventBridge must be allowed to use; undefined for an imported topic. */
  readonly topicKey?: kms.Key;
  readonly deadLetterQueue: sqs.IQueue;
}

/**
 * Rules on the default bus (where CloudTrail delivers AWS API calls: "AWS service events
 * delivered via AWS CloudTrail", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html;
 * pattern fields from "AWS Key Management Service events",
 * https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-kms.html) whose target is the
 * alarm topic. Both are write (non-read-only) management events, which reach ENABLED rules.
 * CloudTrail records the call whether it was allowed or denied, so an attempt alarms too.
 *
 * @example
 * new KeyAdministrationAlarms(stack, { keys, keyringKeys, keyAccessRole, topic, topicKey: opsKey, deadLetterQueue });
 */
export class KeyAdministrationAlarms {
  /** Any administrative call on a stack key. */
  public readonly adminCalls: events.Rule;
  /** A CreateGrant on a keyring key by anyone but the key-access role. */
  public readonly foreignGrants: events.Rule;

  public constructor(scope: Construct, props: KeyAdministrationAlarmsProps) {
    const target = new targets.SnsTopic(props.topic, { deadLetterQueue: props.deadLetterQueue, retryAttempts: DELIVERY_RETRY.attempts, maxEventAge: DELIVERY_RETRY.maxEventAge });
    const keyArns = (keys: readonly kms.IKey[]): string[] => keys.map((k) => k.keyArn);
    this.adminCalls = new events.Rule(scope, 'KeyAdministrationCalls', {
      description: 'rekey: a key-policy, deletion or disable call on a rekey key (allowed or denied)',
      eventPattern: {
        source: ['aws.kms'],
        detailType: [CLOUDTRAIL_API_CALL],
        detail: { eventSource: ['kms.amazonaws.com'], eventName: [...ALARMED_KEY_ADMIN_CALLS], resources: { ARN: keyArns(props.keys) } },
      },
      targets: [target],
    });
    this.foreignGrants = new events.Rule(scope, 'ForeignKeyGrants', {
      description: 'rekey: a grant on a keyring key that the key-access function did not make',
      eventPattern: {
        source: ['aws.kms'],
        detailType: [CLOUDTRAIL_API_CALL],
        detail: {
          eventSource: ['kms.amazonaws.com'],
          eventName: ['CreateGrant'],
          resources: { ARN: keyArns(props.keyringKeys) },
          // A role session other than key-access's, or any caller that is no role session at all
          // (an IAM user, the root): anything-but never matches an absent field, hence the $or.
          $or: [
            { userIdentity: { type: [{ 'anything-but': 'AssumedRole' }] } },
            { userIdentity: { sessionContext: { sessionIssuer: { arn: [{ 'anything-but': props.keyAccessRole.roleArn }] } } } },
          ],
        },
      },
      targets: [target],
    });
    // The topic is SSE-KMS: EventBridge publishes through SNS, which needs the key for it
    // ("Amazon SNS Developer Guide", "Enable compatibility between event sources from AWS services
    // and encrypted topics"); limited to this account's rules.
    props.topicKey?.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeAlarmRulesPublish',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
  }
}
