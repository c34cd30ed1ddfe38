/**
 * Steps shared by the buffer and streaming paths of the EnvelopeClient: input validation,
 * context resolution, and sealing / opening the key slot. Each step zeroes what it owns.
 */
import { ContextMismatchError, ContextRequiredError, DecryptError, LimitExceededError, ValidationError } from '../errors';
import type { CallerContext, EncryptOptions } from './api';
import { encodeContext, isEmptyContext } from './context-encoding';
import { KEY_LENGTH, commitmentMatches, deriveKeys, unwrapDataKey, wrapDataKey, type DataKeySource } from './envelope-crypto';
import { isValidKeyringName, writeHeaderPrefix, writeKeySlot, type HeaderFields, type HeaderLayout, type ParsedHeader } from './format';
import { ENVELOPE_LIMITS } from './limits';
import { KEYRING_NAME_RULE } from '../vocabulary/keyring-name';

/** Throws ValidationError / LimitExceededError unless `keyring` can be written into a header. */
export function checkKeyring(keyring: string): void {
  if (typeof keyring === 'string' && keyring.length > ENVELOPE_LIMITS.keyringMaxLength) {
    throw new LimitExceededError(`keyring names are at most ${ENVELOPE_LIMITS.keyringMaxLength} characters`);
  }
  if (!isValidKeyringName(keyring)) throw new ValidationError(`keyring name must be ${KEYRING_NAME_RULE}`);
}

/** Throws ValidationError unless `frameSize` is an integer within the format's bounds. */
export function checkFrameSize(frameSize: number): void {
  if (!Number.isInteger(frameSize) || frameSize < ENVELOPE_LIMITS.frameSizeMin || frameSize > ENVELOPE_LIMITS.frameSizeMax) {
    throw new ValidationError(`frameSize must be an integer from ${ENVELOPE_LIMITS.frameSizeMin} to ${ENVELOPE_LIMITS.frameSizeMax}`);
  }
}

/** Throws ValidationError unless `version` fits the header's u32 and is >= 1. */
export function checkVersion(version: number, what: string): void {
  if (!Number.isInteger(version) || version < 1 || version > ENVELOPE_LIMITS.maxKeyVersion) {
    throw new ValidationError(`${what} must be an integer from 1 to ${ENVELOPE_LIMITS.maxKeyVersion}`);
  }
}

/** The caller context of an encryption, encoded once. */
export interface EncryptContext {
  /** Canonical encoding when a context is bound. */
  readonly encoded?: Buffer;
  readonly stored: boolean;
}

// The common case (no context) shares one frozen value instead of allocating one per message.
const NO_CONTEXT: EncryptContext = Object.freeze({ encoded: undefined, stored: false });

/** Validates and encodes the context options of an encryption. */
export function prepareEncryptContext(opts: EncryptOptions): EncryptContext {
  if (isEmptyContext(opts.context)) {
    if (opts.storeContext === true) throw new ValidationError('storeContext needs a non-empty context');
    return NO_CONTEXT;
  }
  return { encoded: encodeContext(opts.context as CallerContext), stored: opts.storeContext === true };
}

/** Header fields of a new envelope. */
export function headerFields(suite: number, keyring: string, ctx: EncryptContext, frameSize?: number): HeaderFields {
  // One literal with every property (no conditional spreads): this runs once per message.
  return {
    suite,
    keyring,
    frameSize,
    contextBound: ctx.encoded !== undefined,
    storedContext: ctx.stored ? ctx.encoded : undefined,
  };
}

/**
 * Draws a data key, wraps it under the version key, writes the header prefix (origin version =
 * `version`: the data key is created under it), commitment and key slot at the start of `out`,
 * and returns the derived 64-byte block (payload key in bytes 0..31; the caller zeroes it).
 * `context` is the canonical encoding of the bound context, or undefined. Must run
 * synchronously right after the version key arrives. `planned` is the header's layout when the
 * caller computed it already (to size `out`).
 */
export function sealKeySlot(
  out: Buffer,
  fields: HeaderFields,
  versionKey: Buffer,
  version: number,
  dataKeys: DataKeySource,
  context: Buffer | undefined,
  planned?: HeaderLayout,
): { derived: Buffer; layout: HeaderLayout } {
  checkVersion(version, 'the active version');
  if (versionKey.length !== KEY_LENGTH) throw new ValidationError('a version key must be 32 bytes');
  const layout = writeHeaderPrefix(out, fields, version, planned);
  const dk = dataKeys();
  let derived: Buffer;
  try {
    const wrapped = wrapDataKey(versionKey, dk);
    derived = deriveKeys(dk, fields.suite, out.subarray(0, layout.commitmentOffset), context);
    writeKeySlot(out, layout.ahLength, version, wrapped);
  } finally {
    dk.fill(0);
  }
  derived.copy(out, layout.commitmentOffset, KEY_LENGTH);
  return { derived, layout };
}

/**
 * Decides the context bytes of the payload AAD for a decryption, before any key is fetched.
 * Bound but none supplied: ContextRequiredError. Stored and different: ContextMismatchError.
 * Supplied to an envelope that binds none: DecryptError (it cannot authenticate).
 */
export function resolveDecryptContext(header: ParsedHeader, context: CallerContext | undefined): Buffer | undefined {
  const supplied = !isEmptyContext(context);
  if (!header.contextBound) {
    if (supplied) throw new DecryptError();
    return undefined;
  }
  if (!supplied) throw new ContextRequiredError();
  const encoded = encodeContext(context as CallerContext);
  if (header.storedContext !== undefined && !encoded.equals(header.storedContext)) throw new ContextMismatchError();
  return encoded;
}

/** Unwraps the data key of a parsed header; the caller zeroes it. Must run right after the version key arrives. */
export function unwrapKeySlot(versionKey: Buffer, header: ParsedHeader): Buffer {
  if (versionKey.length !== KEY_LENGTH) throw new DecryptError();
  return unwrapDataKey(versionKey, header.wrappedKey);
}

/**
 * Derives the payload key from an unwrapped data key and checks the key commitment (constant
 * time) before anything touches the payload: it holds only for this data key, this
 * authenticated header and this context (the canonical encoding when the header binds one,
 * else undefined). Zeroes the data key. Returns the 64-byte block.
 */
export function deriveAndCommit(dataKey: Buffer, header: ParsedHeader, context: Buffer | undefined): Buffer {
  let derived: Buffer;
  try {
    if (header.contextBound !== (context !== undefined)) throw new DecryptError();
    derived = deriveKeys(dataKey, header.suite, header.ah.subarray(0, header.commitmentOffset), context);
  } finally {
    dataKey.fill(0);
  }
  if (!commitmentMatches(derived, header.commitment)) {
    derived.fill(0);
    throw new DecryptError();
  }
  return derived;
}

/** Unwraps, derives and commits in one synchronous step (`context` as for {@link deriveAndCommit}). */
export function openKeySlot(versionKey: Buffer, header: ParsedHeader, context: Buffer | undefined): Buffer {
  return deriveAndCommit(unwrapKeySlot(versionKey, header), header, context);
}
