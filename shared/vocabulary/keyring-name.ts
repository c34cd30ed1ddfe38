/**
 * The one keyring-name rule of rekey. Event schemas, configuration, the catalog, the stores,
 * the cache, the CLI and the envelope format all accept exactly the names this module accepts.
 *
 * It lives apart from names.ts (the zod schemas) because the envelope layer needs the rule and
 * must not load zod: `names.ts` builds its `keyringName` schema on {@link isKeyringName}, and
 * the envelope's per-byte table is built from {@link KEYRING_NAME_FIRST_CHARS} and
 * {@link KEYRING_NAME_CHARS} (a property test keeps the two in agreement).
 */
import { ValidationError } from '../errors';

/** Longest keyring name accepted anywhere (it is bound into every envelope header, in ASCII). */
export const KEYRING_NAME_MAX = 64;

/** Characters a keyring name may start with: lowercase ASCII letters and digits. */
export const KEYRING_NAME_FIRST_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Characters a keyring name may contain after its first: the first characters and `.`, `_`, `-`. */
export const KEYRING_NAME_CHARS = `${KEYRING_NAME_FIRST_CHARS}._-`;

/** The rule in words, for error messages and help texts. */
export const KEYRING_NAME_RULE = `1-${KEYRING_NAME_MAX} characters of [a-z0-9._-], starting with a letter or digit`;

// Lowercase only: names become S3 keys, KMS encryption-context values, CloudWatch dimensions
// and Step Functions execution names, where `Payments` and `payments` must never be two keyrings.
const PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * True when `name` is a keyring name: {@link KEYRING_NAME_RULE}.
 *
 * @example
 * isKeyringName('payments'); // true
 * isKeyringName('Payments'); // false
 */
export function isKeyringName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= KEYRING_NAME_MAX && PATTERN.test(name);
}

/**
 * Throws a ValidationError naming the rule unless `name` is a keyring name. The message shows
 * at most 80 characters of the refused name (names are not secrets, but may be long).
 *
 * @example
 * assertKeyringName(argv.keyring);
 * @throws ValidationError when the name is not allowed.
 */
export function assertKeyringName(name: unknown): asserts name is string {
  if (!isKeyringName(name)) {
    const shown = typeof name === 'string' ? `'${name.slice(0, 80)}'` : typeof name;
    throw new ValidationError(`invalid keyring name ${shown}: use ${KEYRING_NAME_RULE}`);
  }
}
