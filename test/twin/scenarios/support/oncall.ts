/**
 * What a scenario's on-call and platform team read back from a stood-up twin: the alarm topic's
 * deliveries (an SQS inbox subscribed to the stack's AlarmTopic, as `alarms.email` would be: an
 * email endpoint cannot be read back) and a keyring's catalog as the stack stored it.
 */
import { CreateQueueCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { SubscribeCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { S3Client } from '@aws-sdk/client-s3';
import { S3CatalogStore } from '../../../../shared/adapters/aws/s3-catalog-store';
import type { Catalog } from '../../../../shared/catalog/model';
import type { Twin } from '../../twin';

/**
 * Subscribes a fresh `oncall-inbox` queue to the stack's alarm topic (raw delivery); the returned
 * function drains it and returns every message received so far, oldest first.
 *
 * @example
 * const inbox = await subscribeOncallInbox(twin, sqs, sns);
 * const alarms = await inbox(); // [{ AlarmName: ..., NewStateValue: 'ALARM', ... }]
 */
export async function subscribeOncallInbox(twin: Twin, sqs: SQSClient, sns: SNSClient): Promise<() => Promise<Record<string, unknown>[]>> {
  const inbox = await sqs.send(new CreateQueueCommand({ QueueName: 'oncall-inbox' }));
  const arn = `arn:aws:sqs:${twin.world.region}:${twin.world.account}:oncall-inbox`;
  await sns.send(new SubscribeCommand({ TopicArn: twin.world.outputs.AlarmTopicArn, Protocol: 'sqs', Endpoint: arn, Attributes: { RawMessageDelivery: 'true' } }));
  const received: Record<string, unknown>[] = [];
  return async () => {
    for (;;) {
      const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: inbox.QueueUrl, MaxNumberOfMessages: 10 }));
      if ((res.Messages ?? []).length === 0) return received;
      for (const m of res.Messages ?? []) received.push(JSON.parse(m.Body ?? '{}') as Record<string, unknown>);
    }
  };
}

/**
 * Reads a keyring's catalog from the stack's catalog bucket (as its administrator, past the proxy).
 *
 * @example
 * const catalog = catalogReader(twin, s3); (await catalog('pii')).versions
 */
export function catalogReader(twin: Twin, s3: S3Client): (keyring?: string) => Promise<Catalog> {
  const catalogs = new S3CatalogStore({ client: s3, bucket: twin.world.outputs.CatalogBucket ?? '', prefix: twin.world.outputs.CatalogPrefix ?? '' });
  return async (keyring = 'pii') => {
    const stored = await catalogs.get(keyring);
    if (stored === undefined) throw new Error(`no ${keyring} catalog`);
    return stored.catalog;
  };
}
