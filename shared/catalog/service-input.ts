/**
 * How the KeyringService checks free text from its callers and reports a keyring's failure in
 * a tick: small rules kept in one place so every operation applies them alike.
 */
import { ValidationError, summarizeError } from '../errors';
import type { TickFailure } from './keyring-service-types';

/**
 * `value` trimmed, when it is a non-empty string of at most 1024 characters.
 *
 * @example
 * requireText(' cli:alice ', 'actor'); // 'cli:alice'
 * @throws ValidationError naming `what` otherwise.
 */
export function requireText(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new ValidationError(`${what} must be a non-empty string`);
  }
  if (value.length > 1024) {
    throw new ValidationError(`${what} must be at most 1024 characters`);
  }
  return value.trim();
}

/**
 * A keyring's failure as a tick reports it: the one error summary (shared/errors.ts), so an
 * unknown error reads the same here as in every handler and never repeats its message.
 */
export function errorSummary(err: unknown): TickFailure {
  return summarizeError(err);
}
