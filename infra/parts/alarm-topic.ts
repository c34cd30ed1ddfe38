/**
 * Where the stack's alarms go: a given topic, or a KMS-encrypted, TLS-only topic of the stack's
 * own that CloudWatch may publish to (optionally with an e-mail subscription).
 */
import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import type { ResolvedRekeyConfig } from '../props';

/**
 * The alarm topic: `alarms.topicArn` imported, else a new topic encrypted with `opsKey`.
 *
 * @example
 * const topic = createAlarmTopic(stack, config.alarms, storage.opsKey);
 */
export function createAlarmTopic(scope: Construct, alarms: ResolvedRekeyConfig['alarms'], opsKey: kms.Key): sns.ITopic {
  if (alarms.topicArn !== undefined) return sns.Topic.fromTopicArn(scope, 'AlarmTopic', alarms.topicArn);
  const topic = new sns.Topic(scope, 'AlarmTopic', { masterKey: opsKey, enforceSSL: true, displayName: 'rekey alarms' });
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
  opsKey.addToResourcePolicy(
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
