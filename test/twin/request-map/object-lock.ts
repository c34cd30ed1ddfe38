/**
 * S3 Object Lock default retention, which moto does not apply the way S3 does.
 *
 * What moto 5.2.1 does (moto/s3/responses.py, `_get_lock_details`, and models.py
 * `FakeBucket.default_retention`): it applies a bucket default only if the bucket was created
 * lock-enabled AND got a PutObjectLockConfiguration, and it computes retain-until from the wall
 * clock (`utcnow()`), not the caller's simulated clock; its CloudFormation drops the template's
 * ObjectLockConfiguration altogether. Its multipart path (`_key_response_post`, create / complete)
 * reads no Object Lock header at all. So the twin sets the retention itself: as request headers
 * on PutObject / CopyObject, and by a PutObjectRetention after a completed multipart upload.
 *
 * S3's behaviour: "Bucket configuration / default retention" (S3 User Guide, "Configuring S3
 * Object Lock"): an object version placed without explicit mode and retain-until gets the
 * bucket's default mode and a retain-until of creation time + the default period.
 */
import type { TwinBucket } from '../world';
import type { AwsRequest } from './index';

/** `YYYY-MM-DDTHH:MM:SSZ`: the form moto parses (`%Y-%m-%dT%H:%M:%SZ`) and S3's ISO 8601 header format. */
export function retainUntil(at: number, days: number): string {
  return new Date(at + days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Headers to add to a PutObject / CopyObject into a bucket with default retention, when the
 * caller set no retention of its own; `undefined` when none apply.
 */
export function defaultRetentionHeaders(req: AwsRequest, bucket: TwinBucket | undefined): Record<string, string> | undefined {
  if (bucket?.objectLock === undefined) return undefined;
  if (req.operation !== 'PutObject' && req.operation !== 'CopyObject') return undefined;
  const h = req.raw.headers;
  if (h['x-amz-object-lock-mode'] !== undefined || h['x-amz-object-lock-retain-until-date'] !== undefined) return undefined;
  return { 'x-amz-object-lock-mode': bucket.objectLock.mode, 'x-amz-object-lock-retain-until-date': retainUntil(req.at, bucket.objectLock.days) };
}

/** The PutObjectRetention body ("PutObjectRetention", S3 API Reference: `<Retention><Mode/><RetainUntilDate/></Retention>`). */
export function retentionXml(mode: string, until: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Retention xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Mode>${mode}</Mode><RetainUntilDate>${until}</RetainUntilDate></Retention>`;
}
