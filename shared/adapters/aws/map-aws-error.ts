/**
 * Maps an AWS SDK failure from the runtime's own clients (EventBridge, CloudWatch, Step
 * Functions) to rekey's error hierarchy. Messages name the operation and the AWS error name
 * only; the SDK error is kept as `cause` for in-process debugging.
 */
import { AccessDeniedError, BackendError, isRekeyError, ThrottledError, type RekeyError } from '../../errors';

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
]);
const DENIED = new Set(['AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation', 'AuthorizationError', 'NotAuthorized']);

/**
 * Converts `err` into a RekeyError: throttling → ThrottledError (retryable), access denied →
 * AccessDeniedError, anything else → BackendError (retryable). RekeyErrors pass through.
 *
 * @example
 * try { await client.send(cmd); } catch (err) { throw mapAwsError(err, 'events:PutEvents'); }
 */
export function mapAwsError(err: unknown, operation: string): RekeyError {
  if (isRekeyError(err)) return err;
  const name = typeof err === 'object' && err !== null && typeof (err as { name?: unknown }).name === 'string' ? (err as { name: string }).name : 'Error';
  const status = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  if (THROTTLING.has(name) || status === 429) return new ThrottledError(`${operation} was throttled (${name})`, { cause: err });
  if (DENIED.has(name) || status === 403) return new AccessDeniedError(`${operation} was denied (${name})`, { cause: err });
  return new BackendError(`${operation} failed (${name})`, { cause: err });
}
