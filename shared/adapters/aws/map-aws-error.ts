/**
 * The one translation of AWS SDK failures (after the SDK's own retries) into rekey's error
 * hierarchy, for every AWS adapter: S3, KMS, EventBridge, CloudWatch, Step Functions,
 * ElastiCache, Lambda. Throttling is the SDK's own retry classification (`isThrottlingError`
 * of `@smithy/core/retry`, the list the clients retry on), so rekey keeps no throttling list of
 * its own; on top of it sit the few AWS error codes rekey gives a meaning to. Messages name the
 * call or the object and the AWS error code only; the SDK error is kept as `cause` for
 * in-process debugging.
 */
import { isThrottlingError } from '@smithy/core/retry';
import type { SdkError } from '@smithy/types';
import {
  AccessDeniedError,
  BackendError,
  ConflictError,
  DecryptError,
  isRekeyError,
  KeyUnavailableError,
  NotFoundError,
  ThrottledError,
  type RekeyError,
} from '../../errors';

/** What rekey makes of one AWS failure. */
export type AwsFailureKind = 'conflict' | 'not-found' | 'key-unavailable' | 'not-for-this-key' | 'throttled' | 'denied' | 'other';

/**
 * What a failed call was about, for the message and for which outcomes it can have:
 * - a string names a control-plane *operation* (`events:PutEvents`): only throttled, denied or
 *   failed. Absence, conflicts or key states there are deployment faults, retried then alarmed,
 *   never an answer the caller can act on;
 * - `{ resource }` names a data *object* rekey reads or writes by name (`s3://b/k`, `KMS key <arn>`):
 *   every kind, so a lost race is a ConflictError and a missing object a NotFoundError.
 */
export type AwsCallSubject = string | { readonly resource: string };

/** The parts of an SDK v3 service exception that the mapping reads. */
interface SdkErrorShape {
  readonly name?: string;
  readonly Code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

// The AWS error codes rekey gives a meaning to (the SDK classifies none of these).
const MEANING: ReadonlyMap<string, AwsFailureKind> = new Map<string, AwsFailureKind>([
  // S3 conditional writes (If-Match / If-None-Match) that lost.
  ['PreconditionFailed', 'conflict'],
  ['ConditionalRequestConflict', 'conflict'],
  // S3: the key, or the version, is absent (HeadObject answers a bare `NotFound`).
  ['NoSuchKey', 'not-found'],
  ['NoSuchVersion', 'not-found'],
  ['NotFound', 'not-found'],
  // KMS: disabled, pending deletion or import, missing, or the wrong key type. No retry helps
  // until an operator acts.
  ['DisabledException', 'key-unavailable'],
  ['KMSInvalidStateException', 'key-unavailable'],
  ['NotFoundException', 'key-unavailable'],
  ['KeyUnavailableException', 'key-unavailable'],
  ['InvalidKeyUsageException', 'key-unavailable'],
  // KMS: wrong key, wrong encryption context or a tampered blob: one vague error, no oracle.
  ['InvalidCiphertextException', 'not-for-this-key'],
  ['IncorrectKeyException', 'not-for-this-key'],
  // S3 answers 503 ServiceUnavailable, like SlowDown, to mean "reduce your request rate";
  // the SDK counts it only as transient.
  ['ServiceUnavailable', 'throttled'],
  // Refusals: IAM, key and bucket policies, bad or expired credentials.
  ['AccessDeniedException', 'denied'],
  ['AccessDenied', 'denied'],
  ['AllAccessDisabled', 'denied'],
  ['UnauthorizedOperation', 'denied'],
  ['AuthorizationError', 'denied'],
  ['NotAuthorized', 'denied'],
  ['UnrecognizedClientException', 'denied'],
  ['InvalidAccessKeyId', 'denied'],
  ['InvalidSignatureException', 'denied'],
  ['SignatureDoesNotMatch', 'denied'],
  ['ExpiredTokenException', 'denied'],
]);

function shape(err: unknown): SdkErrorShape {
  return typeof err === 'object' && err !== null ? (err as SdkErrorShape) : {};
}

/** The HTTP status of an SDK error, when the service answered. */
export function awsErrorStatus(err: unknown): number | undefined {
  return shape(err).$metadata?.httpStatusCode;
}

/** The AWS error code (`NoSuchKey`, `ThrottlingException`, ...): S3's `Code`, else the exception name. */
export function awsErrorCode(err: unknown): string | undefined {
  const s = shape(err);
  return s.Code ?? s.name;
}

/**
 * Classifies an AWS failure: rekey's codes first, then the SDK's throttling classification,
 * then the HTTP status.
 *
 * @example
 * classifyAwsError(new NoSuchKey({ message: 'gone', $metadata: {} })); // 'not-found'
 */
export function classifyAwsError(err: unknown): AwsFailureKind {
  const code = awsErrorCode(err);
  const meaning = code === undefined ? undefined : MEANING.get(code);
  if (meaning !== undefined) return meaning;
  if (isThrottled(err, code)) return 'throttled';
  switch (awsErrorStatus(err)) {
    case 409:
    case 412:
      return 'conflict';
    case 403:
      return 'denied';
    case 404:
      return code === 'NoSuchBucket' ? 'other' : 'not-found';
    case 503:
      return 'throttled';
    default:
      return 'other';
  }
}

// The SDK reads the exception name; S3 may carry its code (`SlowDown`) in `Code` only.
function isThrottled(err: unknown, code: string | undefined): boolean {
  if (typeof err !== 'object' || err === null) return false;
  return isThrottlingError(err as SdkError) || (code !== undefined && isThrottlingError({ name: code } as SdkError));
}

/** True when AWS said the object (or the version) does not exist. */
export function isAwsNotFound(err: unknown): boolean {
  return classifyAwsError(err) === 'not-found';
}

/** True when a conditional request lost: 412 `PreconditionFailed` or 409 `ConditionalRequestConflict`. */
export function isAwsConditionFailed(err: unknown): boolean {
  return classifyAwsError(err) === 'conflict';
}

/**
 * Converts `err` into a RekeyError (RekeyErrors pass through): throttled → ThrottledError and
 * any unclassified failure → BackendError, both retryable; denied → AccessDeniedError; and for
 * an object subject also conflict → ConflictError (retryable), not found → NotFoundError, key
 * unavailable → KeyUnavailableError, not for this key → the one DecryptError.
 *
 * @example
 * try { await events.send(cmd); } catch (err) { throw mapAwsError(err, 'events:PutEvents'); }
 * try { await s3.send(cmd); } catch (err) { throw mapAwsError(err, { resource: `s3://${bucket}/${key}` }); }
 */
export function mapAwsError(err: unknown, subject: AwsCallSubject): RekeyError {
  if (isRekeyError(err)) return err;
  const kind = classifyAwsError(err);
  return typeof subject === 'string' ? forOperation(err, kind, subject) : forResource(err, kind, subject.resource);
}

function forOperation(err: unknown, kind: AwsFailureKind, operation: string): RekeyError {
  const code = awsErrorCode(err) ?? 'Error';
  if (kind === 'throttled') return new ThrottledError(`${operation} was throttled (${code})`, { cause: err });
  if (kind === 'denied') return new AccessDeniedError(`access denied: ${operation} (${code})`, { cause: err });
  return new BackendError(`${operation} failed (${code})`, { cause: err });
}

function forResource(err: unknown, kind: AwsFailureKind, resource: string): RekeyError {
  const code = awsErrorCode(err) ?? awsErrorStatus(err) ?? 'no response';
  switch (kind) {
    case 'conflict':
      return new ConflictError(`${resource} was changed by another writer (${code})`, { cause: err });
    case 'denied':
      return new AccessDeniedError(`access denied to ${resource}`, { cause: err });
    case 'throttled':
      return new ThrottledError(`requests for ${resource} were throttled (${code})`, { cause: err });
    case 'not-found':
      return new NotFoundError(`${resource} does not exist`);
    case 'key-unavailable':
      return new KeyUnavailableError(`${resource} is unavailable (${code})`, { cause: err });
    case 'not-for-this-key':
      return new DecryptError({ cause: err });
    default:
      return new BackendError(`request for ${resource} failed (${code})`, { cause: err });
  }
}
