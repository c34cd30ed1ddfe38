/**
 * Canonical encoding of a caller context (and of a vault encryption context): one byte string
 * per context, whatever the property order, so that it can be authenticated and compared.
 *
 *   u16 BE pair count, then per pair sorted by key bytes:
 *   u16 BE key length, key UTF-8, u16 BE value length, value UTF-8
 */
import { DecryptError, LimitExceededError, ValidationError } from '../errors';
import type { CallerContext } from './api';
import { ENVELOPE_LIMITS } from './limits';

const FATAL_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The encoding of the empty context: a zero pair count. */
export const EMPTY_CONTEXT_ENCODING: Buffer = Buffer.from([0, 0]);

/** True when the context has no pair (absent and `{}` mean the same: nothing bound). */
export function isEmptyContext(context: CallerContext | undefined): boolean {
  if (context === undefined) return true;
  for (const _ in context) return false;
  return true;
}

function utf8Strict(s: string, what: string): Buffer {
  if (typeof s !== 'string') throw new ValidationError(`context ${what} must be a string`);
  const bytes = Buffer.from(s, 'utf8');
  // A lone surrogate encodes as U+FFFD: two different strings would share one encoding.
  if (bytes.toString('utf8') !== s) throw new ValidationError(`context ${what} is not well-formed Unicode`);
  return bytes;
}

/**
 * Encodes a context canonically, enforcing the limits of {@link ENVELOPE_LIMITS}.
 * Throws ValidationError on malformed input and LimitExceededError beyond a limit; names no value.
 *
 * @example
 * encodeContext({ tenant: 'acme' }); // <00 01 00 06 't' 'e' 'n' 'a' 'n' 't' 00 04 'a' 'c' 'm' 'e'>
 */
export function encodeContext(context: CallerContext): Buffer {
  if (context === null || typeof context !== 'object' || Array.isArray(context)) {
    throw new ValidationError('context must be an object of string keys and string values');
  }
  const keys = Object.keys(context);
  if (keys.length > ENVELOPE_LIMITS.contextMaxPairs) {
    throw new LimitExceededError(`context has more than ${ENVELOPE_LIMITS.contextMaxPairs} pairs`);
  }
  const pairs: Array<[Buffer, Buffer]> = [];
  let total = 2;
  for (const key of keys) {
    const k = utf8Strict(key, 'key');
    const v = utf8Strict(context[key] as string, 'value');
    if (k.length === 0) throw new ValidationError('context keys must not be empty');
    if (k.length > ENVELOPE_LIMITS.contextKeyMaxBytes) {
      throw new LimitExceededError(`a context key exceeds ${ENVELOPE_LIMITS.contextKeyMaxBytes} bytes`);
    }
    if (v.length > ENVELOPE_LIMITS.contextValueMaxBytes) {
      throw new LimitExceededError(`a context value exceeds ${ENVELOPE_LIMITS.contextValueMaxBytes} bytes`);
    }
    total += 4 + k.length + v.length;
    pairs.push([k, v]);
  }
  if (total > ENVELOPE_LIMITS.contextMaxEncodedBytes) {
    throw new LimitExceededError(`encoded context exceeds ${ENVELOPE_LIMITS.contextMaxEncodedBytes} bytes`);
  }
  pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
  const out = Buffer.allocUnsafe(total);
  let off = out.writeUInt16BE(pairs.length, 0);
  for (const [k, v] of pairs) {
    off = out.writeUInt16BE(k.length, off);
    off += k.copy(out, off);
    off = out.writeUInt16BE(v.length, off);
    off += v.copy(out, off);
  }
  return out;
}

/**
 * Decodes a canonical context encoding read from an envelope. Strict: anything that
 * {@link encodeContext} would not have produced (unsorted or duplicate keys, bad UTF-8,
 * trailing bytes, a limit exceeded) throws DecryptError.
 */
export function decodeContext(bytes: Buffer): CallerContext {
  if (bytes.length < 2 || bytes.length > ENVELOPE_LIMITS.contextMaxEncodedBytes) throw new DecryptError();
  const count = bytes.readUInt16BE(0);
  if (count > ENVELOPE_LIMITS.contextMaxPairs) throw new DecryptError();
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let off = 2;
  let previous: Buffer | undefined;
  for (let i = 0; i < count; i += 1) {
    if (off + 2 > bytes.length) throw new DecryptError();
    const kl = bytes.readUInt16BE(off);
    off += 2;
    if (kl === 0 || kl > ENVELOPE_LIMITS.contextKeyMaxBytes || off + kl + 2 > bytes.length) throw new DecryptError();
    const k = bytes.subarray(off, off + kl);
    off += kl;
    const vl = bytes.readUInt16BE(off);
    off += 2;
    if (vl > ENVELOPE_LIMITS.contextValueMaxBytes || off + vl > bytes.length) throw new DecryptError();
    const v = bytes.subarray(off, off + vl);
    off += vl;
    if (previous !== undefined && Buffer.compare(previous, k) >= 0) throw new DecryptError();
    previous = k;
    let key: string;
    let value: string;
    try {
      key = FATAL_UTF8.decode(k);
      value = FATAL_UTF8.decode(v);
    } catch {
      throw new DecryptError();
    }
    // Surrogate code points are not valid UTF-8, so the fatal decoder already refused them.
    out[key] = value;
  }
  if (off !== bytes.length) throw new DecryptError();
  return Object.freeze({ ...out });
}
