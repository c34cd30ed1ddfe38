/**
 * Whether any census write mark was lost: the record-written rule's dead-letter queue and the
 * key-use function's failure queue hold every event whose mark was never made (after their
 * retries). GetQueueAttributes with the approximate counts (visible, in flight, delayed:
 * "GetQueueAttributes", Amazon SQS API Reference); approximate, but a queue that ever received a
 * message keeps it until an operator redrives or deletes it, so "empty" is reliable evidence.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { mapAwsError } from './map-aws-error';

const COUNTS = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] as const;

/**
 * The loss queues of the census.
 *
 * @example
 * await new SqsLossQueues(sqs, config.censusLossQueueUrls).anyLost(); // false while both queues are empty
 */
export class SqsLossQueues {
  public constructor(
    private readonly client: SQSClient,
    private readonly urls: readonly string[] | undefined,
  ) {}

  /** True when a queue holds a message, and when the queues are not known (nothing says no mark was lost). */
  public async anyLost(): Promise<boolean> {
    if (this.urls === undefined || this.urls.length === 0) return true;
    for (const url of this.urls) {
      try {
        const out = await this.client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: [...COUNTS] }));
        if (COUNTS.some((k) => Number(out.Attributes?.[k] ?? '0') > 0)) return true;
      } catch (err) {
        throw mapAwsError(err, { resource: `queue ${url.slice(url.lastIndexOf('/') + 1)}` });
      }
    }
    return false;
  }
}
