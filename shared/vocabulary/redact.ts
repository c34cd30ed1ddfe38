/**
 * The redaction guard: the last line of defence that keeps secrets out of logs and audit
 * events even when a caller logs the wrong object. Applied as the Powertools Logger's JSON
 * replacer and to every audit event's details.
 */

/** What replaces a redacted value. */
export const REDACTED = '[redacted]';

// Names under which secrets travel in rekey and the SDKs. `key` alone is not here: S3 object keys
// and keyring names are identifiers, and key bytes are caught by the Buffer rule below.
const SECRET_NAME = /plaintext|secret|passw|token|credential|private|authorization|cookie|datakey|data_key|wrappedkey|wrapped_key|versionkey|version_key|unwrapped|keymaterial|key_material|ciphertext|envelope|canary/i;

// Long unbroken base64/hex runs are key material or ciphertext far more often than identifiers.
const BLOB = /^(?:[A-Za-z0-9+/]{40,}={0,2}|[A-Za-z0-9_-]{64,}|[0-9a-fA-F]{64,})$/;

/** True when a property name suggests that its value is secret. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * A `JSON.stringify` replacer that redacts secret-named properties, binary values and long
 * opaque blobs, and leaves everything else unchanged.
 *
 * @example
 * JSON.stringify({ keyring: 'k', plaintext: 'x' }, redactingReplacer); // '{"keyring":"k","plaintext":"[redacted]"}'
 */
export function redactingReplacer(key: string, value: unknown): unknown {
  if (key !== '' && isSecretName(key)) return value === undefined ? undefined : REDACTED;
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) return REDACTED;
  if (isSerializedBuffer(value)) return REDACTED;
  if (typeof value === 'string' && BLOB.test(value)) return REDACTED;
  return value;
}

/**
 * Returns a deep copy of `value` with {@link redactingReplacer} applied, for sinks that do not
 * stringify through a replacer themselves.
 *
 * @example
 * redactValue({ details: { token: 'abc' } }); // { details: { token: '[redacted]' } }
 */
export function redactValue<T>(value: T): T {
  const text = JSON.stringify(value, redactingReplacer);
  return (text === undefined ? undefined : JSON.parse(text)) as T;
}

function isSerializedBuffer(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { type?: unknown }).type === 'Buffer' &&
    Array.isArray((value as { data?: unknown }).data)
  );
}
