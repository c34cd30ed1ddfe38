/**
 * How the KeyringService checks free text from its callers and reports a keyring's failure in
 * a tick: small rules kept in one place so every operation applies them alike.
 */
import { ValidationError } from '../errors';

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
