/**
 * One translation of S3 failures into rekey's error hierarchy, shared by every S3 adapter,
 * so that a lost race is always a ConflictError and a throttle is always a ThrottledError,
 * whichever adapter met it.
 */
import {
  AccessDeniedError,
  BackendError,
  ConflictError,
  NotFoundError,
  RekeyError,
  ThrottledError,
} from '../../errors';

/** The parts of an SDK v3 service exception that the mapping reads. */
interface SdkErrorShape {
  readonly name?: string;
  readonly Code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $retryable?: { readonly throttling?: boolean };
}

function shape(err: unknown): SdkErrorShape {
  return typeof err === 'object' && err !== null ? (err as SdkErrorShape) : {};
}

/** The HTTP status of an SDK error, when the service answered. */
export function s3Status(err: unknown): number | undefined {
  return shape(err).$metadata?.httpStatusCode;
}

/** The S3 error code (`NoSuchKey`, `PreconditionFailed`, ...), or the exception name. */
export function s3Code(err: unknown): string | undefined {
  const s = shape(err);
  return s.Code ?? s.name;
}

/** True when S3 said the key (or the version) does not exist: `NoSuchKey`, HeadObject's bare 404. */
export function isS3NotFound(err: unknown): boolean {
  const code = s3Code(err);
  return code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchVersion' || (s3Status(err) === 404 && code !== 'NoSuchBucket');
}

/** True when a conditional request lost: 412 `PreconditionFailed` or 409 `ConditionalRequestConflict`. */
export function isS3ConditionFailed(err: unknown): boolean {
  const code = s3Code(err);
  return code === 'PreconditionFailed' || code === 'ConditionalRequestConflict' || s3Status(err) === 412 || s3Status(err) === 409;
}

const THROTTLE_CODES = new Set(['SlowDown', 'ServiceUnavailable', 'RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'TooManyRequestsException']);

/**
 * Maps an S3 failure (already retried by the SDK) to a {@link RekeyError}.
 * `what` names the object for the message (bucket and key, never contents).
 *
 * @example
 * try { await s3.send(cmd); } catch (err) { throw mapS3Error(err, `s3://${bucket}/${key}`); }
 */
export function mapS3Error(err: unknown, what: string): RekeyError {
  if (err instanceof RekeyError) return err;
  const code = s3Code(err);
  const status = s3Status(err);
  if (isS3ConditionFailed(err)) {
    return new ConflictError(`${what} was changed by another writer (${code ?? status})`, { cause: err });
  }
  if (code === 'AccessDenied' || code === 'AllAccessDisabled' || code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch' || status === 403) {
    return new AccessDeniedError(`access denied to ${what}`, { cause: err });
  }
  if ((code !== undefined && THROTTLE_CODES.has(code)) || status === 503 || shape(err).$retryable?.throttling === true) {
    return new ThrottledError(`S3 throttled requests for ${what}`, { cause: err });
  }
  if (isS3NotFound(err)) {
    return new NotFoundError(`${what} does not exist`);
  }
  return new BackendError(`S3 request for ${what} failed (${code ?? status ?? 'no response'})`, { cause: err });
}
