/**
 * Field-level encryption of JSON documents: named fields (dotted paths) of a request or a
 * response swapped between their JSON value and a base64 rekey envelope of that value's JSON
 * text, so a number stays a number and an object an object after the round trip. Pure: the
 * encrypting and decrypting are passed in. Documents are copied along the touched paths, never
 * changed in place. No message names a field's value.
 */
import { DecryptError, ValidationError, isRekeyError } from '../errors';

/** A parsed field path: `address.street` → ['address', 'street']. */
export type FieldPath = readonly string[];

/** Keys whose writing would reach an object's prototype instead of a field. */
const FORBIDDEN_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'prototype', 'constructor']);

/**
 * Parses and checks field paths: dotted, non-empty segments, no prototype keys, no duplicates.
 * A key that itself contains a dot cannot be named.
 *
 * @example
 * parseFieldPaths(['email', 'address.street'], 'fields.encrypt'); // [['email'], ['address', 'street']]
 * @throws ValidationError naming the option.
 */
export function parseFieldPaths(paths: unknown, option: string): FieldPath[] {
  if (paths === undefined) return [];
  if (!Array.isArray(paths)) throw new ValidationError(`${option} must be an array of field names`);
  const seen = new Set<string>();
  return paths.map((path: unknown) => {
    if (typeof path !== 'string' || path === '' || path.length > 256) throw new ValidationError(`${option} must name fields as non-empty strings (dotted paths, at most 256 characters)`);
    const segments = path.split('.');
    if (segments.some((s) => s === '' || FORBIDDEN_SEGMENTS.has(s))) throw new ValidationError(`${option}: '${path}' is not a usable field path`);
    if (seen.has(path)) throw new ValidationError(`${option} names '${path}' twice`);
    seen.add(path);
    return segments;
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The value at `path`, or `found: false` when the path does not lead to an own field. */
function readField(doc: unknown, path: FieldPath): { found: boolean; value?: unknown } {
  let at: unknown = doc;
  for (const segment of path) {
    if (!isPlainObject(at) || !Object.hasOwn(at, segment)) return { found: false };
    at = at[segment];
  }
  return { found: true, value: at };
}

/** A copy of `doc` with `path` set to `value`, sharing every branch it did not touch. */
function writeField(doc: Record<string, unknown>, path: FieldPath, value: unknown): Record<string, unknown> {
  const [head, ...rest] = path as [string, ...string[]];
  const copy: Record<string, unknown> = { ...doc };
  copy[head] = rest.length === 0 ? value : writeField(copy[head] as Record<string, unknown>, rest, value);
  return copy;
}

/**
 * Replaces every present field of `paths` in `doc` by `transform(value)`; absent fields are left
 * out, a document that is not a JSON object has no fields.
 *
 * @example
 * await transformFields({ a: 1, b: 2 }, [['a']], async (v) => Number(v) + 1); // { a: 2, b: 2 }
 */
export async function transformFields(doc: unknown, paths: readonly FieldPath[], transform: (value: unknown) => Promise<unknown>): Promise<unknown> {
  if (!isPlainObject(doc)) return doc;
  let out: Record<string, unknown> = doc;
  for (const path of paths) {
    const field = readField(out, path);
    if (field.found) out = writeField(out, path, await transform(field.value));
  }
  return out;
}

/** Strict standard base64 (what Buffer.toString('base64') writes); Buffer.from alone skips bad characters. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The field value as an envelope: its JSON text encrypted, base64.
 *
 * @example
 * const sealed = await sealField({ street: 'Main St 1' }, (pt) => rekey.encrypt('pii', pt));
 */
export async function sealField(value: unknown, encrypt: (plaintext: Buffer) => Promise<Buffer>): Promise<string> {
  const text = JSON.stringify(value);
  if (text === undefined) throw new ValidationError('a field to encrypt must hold a JSON value');
  const plaintext = Buffer.from(text, 'utf8');
  try {
    return (await encrypt(plaintext)).toString('base64');
  } finally {
    plaintext.fill(0);
  }
}

/**
 * The JSON value sealed in a base64 envelope. Every failure that is not a retryable backend
 * failure is the one DecryptError, whatever the reason (not a string, not base64, tampered,
 * wrong context, revoked or unknown version, not JSON inside): the caller learns nothing about
 * the envelope from the error. A retryable failure (throttling, a backend hiccup) passes
 * through, so the caller can retry it.
 *
 * @example
 * const street = await openField(body.street, async (env) => (await rekey.decrypt(env)).plaintext);
 * @throws DecryptError, or the retryable RekeyError of the backend.
 */
export async function openField(value: unknown, decrypt: (envelope: Buffer) => Promise<Buffer>): Promise<unknown> {
  if (typeof value !== 'string' || value.length === 0 || !BASE64.test(value)) throw new DecryptError();
  let plaintext: Buffer;
  try {
    plaintext = await decrypt(Buffer.from(value, 'base64'));
  } catch (err) {
    if (isRekeyError(err) && err.retryable) throw err;
    // A RekeyError's message names no secret (errors.ts); anything else is not kept at all.
    throw new DecryptError(isRekeyError(err) ? { cause: err } : undefined);
  }
  try {
    return JSON.parse(plaintext.toString('utf8')) as unknown;
  } catch {
    // JSON.parse's message quotes the text: the plaintext must not reach an error or a log.
    throw new DecryptError();
  } finally {
    plaintext.fill(0);
  }
}
