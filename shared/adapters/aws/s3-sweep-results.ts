/**
 * The census step's S3 reads (shared/usecases/record-census.ts SweepResultsReader): a map run's
 * result files in the state bucket, read with a size bound, and whether a record target bucket
 * sends its events to EventBridge (GetBucketNotificationConfiguration answers an
 * `EventBridgeConfiguration` element when it does: "Enabling Amazon EventBridge", Amazon S3
 * User Guide, https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-event-notifications-eventbridge.html).
 */
import { GetBucketNotificationConfigurationCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { ValidationError } from '../../errors';
import type { SweepResultsReader } from '../../ports/sweep-results';
import { isAwsNotFound, mapAwsError } from './map-aws-error';

/**
 * {@link SweepResultsReader} over one S3 client.
 *
 * @example
 * const results = new S3SweepResults(s3);
 * await results.eventBridgeEnabled('records'); // true once the bucket's EventBridge notifications are on
 */
export class S3SweepResults implements SweepResultsReader {
  public constructor(private readonly client: S3Client) {}

  public async readText(bucket: string, key: string, maxBytes: number): Promise<string | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if ((out.ContentLength ?? 0) > maxBytes) {
        out.Body?.transformToWebStream().cancel().catch(() => undefined);
        throw new ValidationError(`s3://${bucket}/${key} is larger than ${maxBytes} bytes`);
      }
      return (await out.Body?.transformToString('utf8')) ?? '';
    } catch (err) {
      if (err instanceof ValidationError) throw err;
      if (isAwsNotFound(err)) return undefined;
      throw mapAwsError(err, { resource: `s3://${bucket}/${key}` });
    }
  }

  public async readLines(bucket: string, key: string, maxLineBytes: number, onLine: (line: string) => void): Promise<boolean> {
    let body: Readable;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (out.Body === undefined) return true;
      body = out.Body as Readable;
    } catch (err) {
      if (isAwsNotFound(err)) return false;
      throw mapAwsError(err, { resource: `s3://${bucket}/${key}` });
    }
    // Split on newlines by hand: readline would buffer a line of any length.
    let pending = '';
    // A chunk may end inside a multi-byte character: the decoder keeps it for the next one.
    const decoder = new StringDecoder('utf8');
    try {
      for await (const chunk of body) {
        pending += decoder.write(chunk as Buffer);
        let nl = pending.indexOf('\n');
        while (nl >= 0) {
          onLine(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
          nl = pending.indexOf('\n');
        }
        if (Buffer.byteLength(pending) > maxLineBytes) throw new ValidationError(`s3://${bucket}/${key} has a line longer than ${maxLineBytes} bytes`);
      }
    } catch (err) {
      body.destroy();
      if (err instanceof ValidationError) throw err;
      throw mapAwsError(err, { resource: `s3://${bucket}/${key}` });
    }
    pending += decoder.end();
    if (pending !== '') onLine(pending);
    return true;
  }

  public async eventBridgeEnabled(bucket: string): Promise<boolean> {
    try {
      const out = await this.client.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
      return out.EventBridgeConfiguration !== undefined;
    } catch (err) {
      throw mapAwsError(err, { resource: `notifications of bucket '${bucket}'` });
    }
  }
}
