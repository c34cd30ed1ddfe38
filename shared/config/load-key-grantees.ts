/**
 * The key-access function's own configuration, next to the one every function shares
 * (./load-config.ts): which roles read each keyring through per-version KMS grants.
 */
import { ValidationError } from '../errors';
import { jsonText } from '../vocabulary/json-text';
import { keyringName } from '../vocabulary/names';
import * as z from '../vocabulary/zod';
import { KEY_GRANTEES_ENV } from './env-names';

/** Keyring → role ARNs that read its version keys through grants. */
export type KeyGrantees = Readonly<Record<string, readonly string[]>>;

// A @__PURE__ z.lazy like every schema of the vocabulary: built on first use, not at load.
const granteesSchema = /* @__PURE__ */ z.lazy(() => jsonText(z.record(keyringName, z.array(z.string().check(z.minLength(20), z.maxLength(2048))))));

/**
 * Reads and validates {@link KEY_GRANTEES_ENV}.
 *
 * @param env - The environment to read; defaults to `process.env` (tests pass their own).
 * @throws ValidationError naming the variable (never echoing its value) when it is missing or malformed.
 * @example
 * loadKeyGrantees({ REKEY_KEY_GRANTEES: '{"pii":["arn:aws:iam::123456789012:role/app"]}' }).pii; // ['arn:aws:iam::123456789012:role/app']
 */
export function loadKeyGrantees(env: Readonly<Record<string, string | undefined>> = process.env): KeyGrantees {
  const parsed = z.safeParse(granteesSchema, env[KEY_GRANTEES_ENV]);
  if (!parsed.success) throw new ValidationError(`invalid configuration: ${KEY_GRANTEES_ENV}`);
  return Object.freeze(Object.fromEntries(Object.entries(parsed.data).map(([keyring, roles]) => [keyring, Object.freeze([...roles])])));
}
