/**
 * Queues, topics, buses, archives and rules. Queues, topics and buses are created on moto (it
 * keeps messages); their resource policies, subscriptions, archives and rules are recorded in
 * the world, where the twin's drivers deliver events as EventBridge and SNS would (moto would
 * try to run targets in Docker). Property names from the CloudFormation Template Reference:
 * AWS::SQS::Queue, AWS::SQS::QueuePolicy, AWS::SNS::Topic, AWS::SNS::TopicPolicy,
 * AWS::SNS::Subscription, AWS::Events::EventBus, AWS::Events::EventBusPolicy,
 * AWS::Events::Archive, AWS::Events::Rule (its Ref is `bus|rule` on a custom bus).
 */
import { CreateEventBusCommand, DeleteEventBusCommand } from '@aws-sdk/client-eventbridge';
import { CreateTopicCommand, DeleteTopicCommand, SetTopicAttributesCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteQueueCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { TwinRule, TwinRuleTarget } from '../../world';
import { generatedName, uniqueSuffix } from '../names';
import type { HandlerContext, ResourceHandler } from '../types';
import { arnOf, nameFromArn, optList, optNumber, optObject, optString, policyDocument, reqString } from './util';

/** CloudFormation properties of AWS::SQS::Queue that are SQS queue attributes of the same name. */
const QUEUE_ATTRIBUTES = [
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'SqsManagedSseEnabled',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
  'RedrivePolicy',
  'RedriveAllowPolicy',
];

function queueAttributes(p: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of QUEUE_ATTRIBUTES) {
    const v = p[k];
    if (v !== undefined) out[k] = typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  return out;
}

function fifoName(base: string, fifo: boolean, max: number): string {
  return fifo ? `${base.slice(0, max - 5)}.fifo` : base;
}

const sqsQueue: ResourceHandler = {
  async apply(ctx) {
    const p = ctx.properties;
    const fifo = p['FifoQueue'] === true || p['FifoQueue'] === 'true';
    const name = ctx.previous?.attributes['QueueName'] as string | undefined ?? optString(p, 'QueueName') ?? fifoName(generatedName(ctx.stackName, ctx.logicalId, { max: 80 }), fifo, 80);
    const attributes = queueAttributes(p);
    if (ctx.previous === undefined) await ctx.aws.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const { FifoQueue: _fifo, ...mutable } = attributes;
    const url = `https://sqs.${ctx.world.region}.amazonaws.com/${ctx.world.account}/${name}`;
    if (ctx.previous !== undefined) await ctx.aws.sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: mutable }));
    const arn = arnOf(ctx, 'sqs', name);
    const existing = ctx.world.queues.get(arn);
    ctx.world.queues.set(arn, { logicalId: ctx.logicalId, name, arn, url, ...(existing?.policy === undefined ? {} : { policy: existing.policy }) });
    return { physicalId: url, attributes: { Arn: arn, QueueName: name, QueueUrl: url } };
  },
  async remove(ctx, previous) {
    await ctx.aws.sqs.send(new DeleteQueueCommand({ QueueUrl: previous.physicalId }));
    ctx.world.queues.delete(String(previous.attributes['Arn']));
  },
};

const sqsQueuePolicy: ResourceHandler = {
  async apply(ctx) {
    const doc = JSON.stringify(policyDocument(ctx.properties['PolicyDocument'], `${ctx.logicalId} PolicyDocument`));
    for (const url of optList(ctx.properties, 'Queues')) await ctx.aws.sqs.send(new SetQueueAttributesCommand({ QueueUrl: String(url), Attributes: { Policy: doc } }));
    return { physicalId: ctx.previous?.physicalId ?? `${ctx.stackName}-${ctx.logicalId}-${uniqueSuffix()}`, attributes: { Id: ctx.logicalId } };
  },
  async remove(ctx, previous) {
    for (const url of optList(previous.properties, 'Queues')) await ctx.aws.sqs.send(new SetQueueAttributesCommand({ QueueUrl: String(url), Attributes: { Policy: '' } }));
  },
};

function topicAttributes(p: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['DisplayName', 'KmsMasterKeyId', 'FifoTopic', 'ContentBasedDeduplication', 'SignatureVersion', 'TracingConfig']) {
    const v = p[k];
    if (v !== undefined) out[k] = String(v);
  }
  return out;
}

const snsTopic: ResourceHandler = {
  async apply(ctx) {
    const p = ctx.properties;
    const fifo = p['FifoTopic'] === true;
    const attributes = topicAttributes(p);
    let arn = ctx.previous?.physicalId;
    if (arn === undefined) {
      const name = optString(p, 'TopicName') ?? fifoName(generatedName(ctx.stackName, ctx.logicalId, { max: 256 }), fifo, 256);
      arn = (await ctx.aws.sns.send(new CreateTopicCommand({ Name: name, Attributes: attributes }))).TopicArn ?? arnOf(ctx, 'sns', name);
    } else {
      for (const [k, v] of Object.entries(attributes)) {
        if (k !== 'FifoTopic') await ctx.aws.sns.send(new SetTopicAttributesCommand({ TopicArn: arn, AttributeName: k, AttributeValue: v }));
      }
    }
    const name = nameFromArn(arn);
    const keyRef = optString(p, 'KmsMasterKeyId');
    const existing = ctx.world.topics.get(arn);
    ctx.world.topics.set(arn, {
      logicalId: ctx.logicalId,
      name,
      arn,
      ...(existing?.policy === undefined ? {} : { policy: existing.policy }),
      ...(keyRef === undefined ? {} : { kmsKeyArn: ctx.world.key(keyRef)?.arn ?? keyRef }),
      subscriptions: existing?.subscriptions ?? [],
    });
    return { physicalId: arn, attributes: { TopicArn: arn, TopicName: name } };
  },
  async remove(ctx, previous) {
    await ctx.aws.sns.send(new DeleteTopicCommand({ TopicArn: previous.physicalId }));
    ctx.world.topics.delete(previous.physicalId);
  },
};

const snsTopicPolicy: ResourceHandler = {
  async apply(ctx) {
    const doc = JSON.stringify(policyDocument(ctx.properties['PolicyDocument'], `${ctx.logicalId} PolicyDocument`));
    for (const arn of optList(ctx.properties, 'Topics')) await ctx.aws.sns.send(new SetTopicAttributesCommand({ TopicArn: String(arn), AttributeName: 'Policy', AttributeValue: doc }));
    return { physicalId: ctx.previous?.physicalId ?? `${ctx.stackName}-${ctx.logicalId}-${uniqueSuffix()}`, attributes: { Id: ctx.logicalId } };
  },
};

const snsSubscription: ResourceHandler = {
  async apply(ctx) {
    const topicArn = reqString(ctx, 'TopicArn');
    reqString(ctx, 'Protocol');
    const arn = ctx.previous?.physicalId ?? `${topicArn}:${uniqueSuffix()}`;
    return { physicalId: arn, attributes: { Arn: arn } };
  },
};

const eventBus: ResourceHandler = {
  async apply(ctx) {
    const name = reqString(ctx, 'Name');
    const arn = arnOf(ctx, 'events', `event-bus/${name}`);
    if (ctx.previous === undefined) await ctx.aws.events.send(new CreateEventBusCommand({ Name: name }));
    const existing = ctx.world.buses.get(name);
    ctx.world.buses.set(name, { logicalId: ctx.logicalId, name, arn, ...(existing?.policy === undefined ? {} : { policy: existing.policy }) });
    return { physicalId: name, attributes: { Arn: arn, Name: name } };
  },
  async remove(ctx, previous) {
    await ctx.aws.events.send(new DeleteEventBusCommand({ Name: previous.physicalId }));
    ctx.world.buses.delete(previous.physicalId);
  },
};

const eventBusPolicy: ResourceHandler = {
  async apply(ctx) {
    if (ctx.properties['Statement'] === undefined && ctx.properties['Policy'] === undefined) throw new Error(`${ctx.logicalId}: EventBusPolicy needs Statement or Policy`);
    return { physicalId: ctx.previous?.physicalId ?? reqString(ctx, 'StatementId'), attributes: {} };
  },
};

const eventArchive: ResourceHandler = {
  async apply(ctx) {
    const p = ctx.properties;
    const name = ctx.previous?.physicalId ?? optString(p, 'ArchiveName') ?? generatedName(ctx.stackName, ctx.logicalId, { max: 48 });
    const arn = arnOf(ctx, 'events', `archive/${name}`);
    const pattern = optObject(p, 'EventPattern');
    const retentionDays = optNumber(p, 'RetentionDays');
    const index = ctx.extras.archives.findIndex((a) => a.name === name);
    if (index >= 0) ctx.extras.archives.splice(index, 1);
    ctx.extras.archives.push({ logicalId: ctx.logicalId, name, arn, sourceArn: reqString(ctx, 'SourceArn'), ...(pattern === undefined ? {} : { pattern }), ...(retentionDays === undefined ? {} : { retentionDays }) });
    return { physicalId: name, attributes: { Arn: arn, ArchiveName: name } };
  },
  async remove(ctx, previous) {
    const index = ctx.extras.archives.findIndex((a) => a.name === previous.physicalId);
    if (index >= 0) ctx.extras.archives.splice(index, 1);
  },
};

function ruleTargets(ctx: HandlerContext): TwinRuleTarget[] {
  return (optList(ctx.properties, 'Targets') as Record<string, unknown>[]).map((t) => {
    const retry = optObject(t, 'RetryPolicy');
    const input = optString(t, 'Input');
    const roleArn = optString(t, 'RoleArn');
    const deadLetterArn = optString(optObject(t, 'DeadLetterConfig') ?? {}, 'Arn');
    const inputPath = optString(t, 'InputPath');
    const inputTransformer = optObject(t, 'InputTransformer');
    return {
      id: String(t['Id']),
      arn: String(t['Arn']),
      ...(input === undefined ? {} : { input }),
      ...(roleArn === undefined ? {} : { roleArn }),
      ...(deadLetterArn === undefined ? {} : { deadLetterArn }),
      ...(retry === undefined ? {} : { retry: { ...(retry['MaximumRetryAttempts'] === undefined ? {} : { maximumRetryAttempts: Number(retry['MaximumRetryAttempts']) }), ...(retry['MaximumEventAgeInSeconds'] === undefined ? {} : { maximumEventAgeInSeconds: Number(retry['MaximumEventAgeInSeconds']) }) } }),
      // Not in TwinRuleTarget: kept for the rule driver, as extra fields.
      ...(inputPath === undefined ? {} : { inputPath }),
      ...(inputTransformer === undefined ? {} : { inputTransformer }),
    };
  });
}

/** AWS::Events::Rule State (absent: ENABLED); the read-only CloudTrail state is kept for the bus driver. */
function ruleState(state: string | undefined): TwinRule['state'] {
  return state === 'DISABLED' || state === 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS' ? state : 'ENABLED';
}

const eventRule: ResourceHandler = {
  async apply(ctx) {
    const p = ctx.properties;
    const busName = nameFromArn(optString(p, 'EventBusName') ?? 'default');
    const name = (ctx.previous?.attributes['Name'] as string | undefined) ?? optString(p, 'Name') ?? generatedName(ctx.stackName, ctx.logicalId, { max: 64 });
    const arn = arnOf(ctx, 'events', busName === 'default' ? `rule/${name}` : `rule/${busName}/${name}`);
    const rawPattern = p['EventPattern'];
    const pattern = typeof rawPattern === 'string' ? (JSON.parse(rawPattern) as Record<string, unknown>) : ((rawPattern as Record<string, unknown> | undefined) ?? {});
    const scheduleExpression = optString(p, 'ScheduleExpression');
    ctx.world.rules.set(arn, {
      logicalId: ctx.logicalId,
      name,
      arn,
      busName,
      pattern,
      state: ruleState(optString(p, 'State')),
      targets: ruleTargets(ctx),
      ...(scheduleExpression === undefined ? {} : { scheduleExpression }),
    });
    return { physicalId: busName === 'default' ? name : `${busName}|${name}`, attributes: { Arn: arn, Name: name } };
  },
  async remove(ctx, previous) {
    ctx.world.rules.delete(String(previous.attributes['Arn']));
  },
};

/** Handlers by resource type. */
export const MESSAGING_HANDLERS: Readonly<Record<string, ResourceHandler>> = {
  'AWS::SQS::Queue': sqsQueue,
  'AWS::SQS::QueuePolicy': sqsQueuePolicy,
  'AWS::SNS::Topic': snsTopic,
  'AWS::SNS::TopicPolicy': snsTopicPolicy,
  'AWS::SNS::Subscription': snsSubscription,
  'AWS::Events::EventBus': eventBus,
  'AWS::Events::EventBusPolicy': eventBusPolicy,
  'AWS::Events::Archive': eventArchive,
  'AWS::Events::Rule': eventRule,
};
