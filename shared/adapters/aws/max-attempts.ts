/**
 * The attempts option of the S3 documents replaced by read, change and conditional write
 * (S3KeyUseLog, S3RecordCensus): how many lost races before a ConflictError.
 */
import { ValidationError } from '../../errors';

/**
 * The validated attempts of a conditional replace: 1 to 20, 5 when absent.
 *
 * @example
 * maxAttemptsOption(undefined); // 5
 * @throws ValidationError outside 1..20 or not an integer.
 */
export function maxAttemptsOption(value: number | undefined): number {
  const n = value ?? 5;
  if (!Number.isInteger(n) || n < 1 || n > 20) throw new ValidationError('maxAttempts must be an integer from 1 to 20');
  return n;
}
