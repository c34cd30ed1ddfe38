/**
 * Envelope format v1, bytes only: serialize and parse the header and the framed body layout.
 * No cryptography and no I/O here; every parse failure is the one DecryptError, and every
 * length read from the input is checked against ENVELOPE_LIMITS before it is used.
 * The byte-by-byte specification is docs/envelope-format.md.
 */
import { DecryptError } from '../errors';
import { KEYRING_NAME_CHARS, KEYRING_NAME_FIRST_CHARS, KEYRING_NAME_MAX } from '../vocabulary/keyring-name';
import { ENVELOPE_LIMITS } from './limits';

/** Format version byte of this layout. */
export const FORMAT_VERSION = 0x01;
/** Suite byte: one-shot AES-256-GCM payload. */
export const SUITE_ONE_SHOT = 0x01;
/** Suite byte: framed (STREAM) AES-256-GCM payload. */
export const SUITE_FRAMED = 0x02;
/** Flag bit: a caller context is bound into the payload AAD. */
export const FLAG_CONTEXT_BOUND = 0x01;
/** Flag bit: the canonical context encoding is stored in clear in the header. */
export const FLAG_CONTEXT_STORED = 0x02;
/** Length of the key commitment. */
export const COMMITMENT_LENGTH = 32;
/** Length of the origin version field (u32 BE), the last field before the commitment. */
export const ORIGIN_VERSION_LENGTH = 4;
/** Length of an RFC 3394 wrap of a 256-bit data key. */
export const WRAPPED_KEY_LENGTH = 40;
/** The re-wrappable tail of the header: u32 key version and the wrapped data key. */
export const KEY_SLOT_LENGTH = 4 + WRAPPED_KEY_LENGTH;
/** AES-GCM tag length. */
export const TAG_LENGTH = 16;
/** Length prefix of the final frame. */
export const FINAL_PREFIX_LENGTH = 4;
/** Smallest final frame: empty plaintext. */
export const MIN_FINAL_FRAME_LENGTH = FINAL_PREFIX_LENGTH + TAG_LENGTH;

/** Human-readable names of the suites, as reported by inspect. */
export const SUITE_NAMES: Readonly<Record<number, string>> = Object.freeze({
  [SUITE_ONE_SHOT]: 'AES-256-GCM/AES-KW/SHA512-KDF-commit/one-shot',
  [SUITE_FRAMED]: 'AES-256-GCM/AES-KW/SHA512-KDF-commit/framed',
});

// The one keyring-name rule (shared/vocabulary/keyring-name.ts) as a byte table, so that the
// parser checks a header's name branch-free per byte: bit 1 = allowed, bit 2 = allowed first.
const KEYRING_BYTE = new Uint8Array(256);
const KEYRING_ANY = 1;
const KEYRING_FIRST = 2;
for (const ch of KEYRING_NAME_CHARS) KEYRING_BYTE[ch.charCodeAt(0)] = KEYRING_ANY;
for (const ch of KEYRING_NAME_FIRST_CHARS) KEYRING_BYTE[ch.charCodeAt(0)] = KEYRING_ANY | KEYRING_FIRST;

/**
 * True when bytes `start` .. `end` of `buf` are a keyring name (the one rule, byte by byte):
 * the envelope parser's check of the name in a header.
 */
export function isKeyringNameBytes(buf: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  if (length < 1 || length > KEYRING_NAME_MAX || end > buf.length) return false;
  if (((KEYRING_BYTE[buf[start] as number] ?? 0) & KEYRING_FIRST) === 0) return false;
  for (let i = start + 1; i < end; i += 1) {
    if (((KEYRING_BYTE[buf[i] as number] ?? 0) & KEYRING_ANY) === 0) return false;
  }
  return true;
}

/** True when `name` is a keyring name the header can carry (the one rule, without a regex). */
export function isValidKeyringName(name: string): boolean {
  if (typeof name !== 'string' || name.length === 0 || name.length > KEYRING_NAME_MAX) return false;
  if (((KEYRING_BYTE[name.charCodeAt(0)] ?? 0) & KEYRING_FIRST) === 0) return false;
  for (let i = 1; i < name.length; i += 1) {
    // A char code above 255 indexes past the table: undefined, refused.
    if (((KEYRING_BYTE[name.charCodeAt(i)] ?? 0) & KEYRING_ANY) === 0) return false;
  }
  return true;
}

/** The fields needed to write a header. */
export interface HeaderFields {
  readonly suite: number;
  readonly keyring: string;
  /** Framed suite only. */
  readonly frameSize?: number;
  readonly contextBound: boolean;
  /** Canonical context encoding to store in clear (implies contextBound). */
  readonly storedContext?: Buffer;
}

/** Offsets of a written or parsed header. */
export interface HeaderLayout {
  /** Length of the authenticated header (everything up to and including the commitment). */
  readonly ahLength: number;
  /** Offset of the origin version (u32 BE); AH before the commitment ends right after it. */
  readonly originOffset: number;
  /** Offset of the commitment: also the length of the header prefix the key derivation reads. */
  readonly commitmentOffset: number;
  /** Full header length (AH + key slot). */
  readonly headerLength: number;
}

/** Computes the layout of a header with these fields (the caller has validated them). */
export function headerLayout(fields: HeaderFields): HeaderLayout {
  let len = 4 + fields.keyring.length;
  if (fields.suite === SUITE_FRAMED) len += 4;
  if (fields.storedContext !== undefined) len += 2 + fields.storedContext.length;
  const originOffset = len;
  const commitmentOffset = originOffset + ORIGIN_VERSION_LENGTH;
  const ahLength = commitmentOffset + COMMITMENT_LENGTH;
  return { ahLength, originOffset, commitmentOffset, headerLength: ahLength + KEY_SLOT_LENGTH };
}

/**
 * Writes the header prefix (everything but the commitment and the key slot: the bytes the key
 * derivation reads, ending with the origin version) at the start of `out` and returns its
 * layout; the caller writes the commitment and key slot at the offsets. `originVersion` is
 * the version the data key is created under (a new envelope: its key version). A caller that
 * already computed the layout passes it, so that it is not computed twice.
 */
export function writeHeaderPrefix(out: Buffer, fields: HeaderFields, originVersion: number, layout: HeaderLayout = headerLayout(fields)): HeaderLayout {
  let flags = 0;
  if (fields.contextBound || fields.storedContext !== undefined) flags |= FLAG_CONTEXT_BOUND;
  if (fields.storedContext !== undefined) flags |= FLAG_CONTEXT_STORED;
  out[0] = FORMAT_VERSION;
  out[1] = fields.suite;
  out[2] = flags;
  out[3] = fields.keyring.length;
  let off = 4 + out.write(fields.keyring, 4, 'latin1');
  if (fields.suite === SUITE_FRAMED) off = out.writeUInt32BE(fields.frameSize ?? 0, off);
  if (fields.storedContext !== undefined) {
    off = out.writeUInt16BE(fields.storedContext.length, off);
    fields.storedContext.copy(out, off);
  }
  out.writeUInt32BE(originVersion, layout.originOffset);
  return layout;
}

/** Writes the key slot (u32 BE version and wrapped data key) at `offset`. */
export function writeKeySlot(out: Buffer, offset: number, version: number, wrappedKey: Buffer): void {
  out.writeUInt32BE(version, offset);
  wrappedKey.copy(out, offset + 4);
}

/** A parsed header. Buffers are views of the input, not copies. */
export interface ParsedHeader extends HeaderLayout {
  readonly formatVersion: number;
  readonly suite: number;
  readonly flags: number;
  readonly keyring: string;
  readonly frameSize?: number;
  readonly contextBound: boolean;
  readonly contextStored: boolean;
  /** Canonical encoding of the stored context (view), when stored. */
  readonly storedContext?: Buffer;
  /** The authenticated header (view). */
  readonly ah: Buffer;
  /**
   * The version under which the data key was created (authenticated, in AH): equal to
   * `version` until a header-only re-wrap moves the key slot to a newer version, which keeps
   * it. Always 1 <= originVersion <= version.
   */
  readonly originVersion: number;
  /** The commitment (view). */
  readonly commitment: Buffer;
  readonly version: number;
  /** The wrapped data key (view). */
  readonly wrappedKey: Buffer;
}

/**
 * Returns the full header length once enough leading bytes are present to know it, or
 * undefined when more bytes are needed. Rejects an impossible prefix (bad version, suite,
 * flags, keyring length) as soon as it is visible, so that a stream never buffers garbage.
 */
export function probeHeaderLength(buf: Buffer): number | undefined {
  if (buf.length >= 1 && buf[0] !== FORMAT_VERSION) throw new DecryptError();
  if (buf.length >= 2 && buf[1] !== SUITE_ONE_SHOT && buf[1] !== SUITE_FRAMED) throw new DecryptError();
  if (buf.length >= 3 && ((buf[2] as number) & ~3) !== 0) throw new DecryptError();
  if (buf.length >= 3 && buf[2] === FLAG_CONTEXT_STORED) throw new DecryptError();
  if (buf.length < 4) return undefined;
  const keyringLength = buf[3] as number;
  if (keyringLength === 0 || keyringLength > ENVELOPE_LIMITS.keyringMaxLength) throw new DecryptError();
  let len = 4 + keyringLength + (buf[1] === SUITE_FRAMED ? 4 : 0);
  if (((buf[2] as number) & FLAG_CONTEXT_STORED) !== 0) {
    if (buf.length < len + 2) return undefined;
    const n = buf.readUInt16BE(len);
    if (n < 2 || n > ENVELOPE_LIMITS.contextMaxEncodedBytes) throw new DecryptError();
    len += 2 + n;
  }
  return len + ORIGIN_VERSION_LENGTH + COMMITMENT_LENGTH + KEY_SLOT_LENGTH;
}

/** Parses and validates a header at the start of `buf`. Throws DecryptError on anything invalid. */
export function parseHeader(buf: Buffer): ParsedHeader {
  const headerLength = probeHeaderLength(buf);
  if (headerLength === undefined || buf.length < headerLength) throw new DecryptError();
  const suite = buf[1] as number;
  const flags = buf[2] as number;
  const keyringLength = buf[3] as number;
  if (!isKeyringNameBytes(buf, 4, 4 + keyringLength)) throw new DecryptError();
  const keyring = buf.toString('latin1', 4, 4 + keyringLength);
  let off = 4 + keyringLength;
  let frameSize: number | undefined;
  if (suite === SUITE_FRAMED) {
    frameSize = buf.readUInt32BE(off);
    if (frameSize < ENVELOPE_LIMITS.frameSizeMin || frameSize > ENVELOPE_LIMITS.frameSizeMax) throw new DecryptError();
    off += 4;
  }
  const contextStored = (flags & FLAG_CONTEXT_STORED) !== 0;
  let storedContext: Buffer | undefined;
  if (contextStored) {
    const n = buf.readUInt16BE(off);
    storedContext = buf.subarray(off + 2, off + 2 + n);
    off += 2 + n;
  }
  const originOffset = off;
  const originVersion = buf.readUInt32BE(originOffset);
  const commitmentOffset = originOffset + ORIGIN_VERSION_LENGTH;
  const ahLength = commitmentOffset + COMMITMENT_LENGTH;
  const version = buf.readUInt32BE(ahLength);
  // A data key is created under its origin version and re-wraps only move it forward, so a
  // key version below the origin (or either below 1) is no envelope rekey writes.
  if (version < 1 || originVersion < 1 || originVersion > version) throw new DecryptError();
  // One literal with every property (no conditional spreads): parsing is on the hot path.
  return {
    formatVersion: FORMAT_VERSION,
    suite,
    flags,
    keyring,
    frameSize,
    contextBound: (flags & FLAG_CONTEXT_BOUND) !== 0,
    contextStored,
    storedContext,
    ah: buf.subarray(0, ahLength),
    originVersion,
    commitment: buf.subarray(commitmentOffset, ahLength),
    version,
    wrappedKey: buf.subarray(ahLength + 4, headerLength),
    ahLength,
    originOffset,
    commitmentOffset,
    headerLength,
  };
}

/** Where the frames of a framed body lie. */
export interface FramedLayout {
  /** Number of full (non-final) frames, each frameSize + 16 bytes. */
  readonly fullFrames: number;
  /** Offset of the final frame inside the body. */
  readonly finalOffset: number;
  /** Plaintext length of the final frame (its u32 prefix, already checked). */
  readonly finalLength: number;
}

/**
 * Computes the frame layout of a framed body from its length alone, and checks the final
 * frame's length prefix against it. The layout is unique: full frames are frameSize + 16 bytes
 * and the final frame is 20 + n bytes with n <= frameSize.
 */
export function framedLayout(body: Buffer, frameSize: number): FramedLayout {
  if (body.length < MIN_FINAL_FRAME_LENGTH) throw new DecryptError();
  const fullFrameLength = frameSize + TAG_LENGTH;
  const fullFrames = Math.floor((body.length - MIN_FINAL_FRAME_LENGTH) / fullFrameLength);
  if (fullFrames + 1 > ENVELOPE_LIMITS.maxFrames) throw new DecryptError();
  const finalOffset = fullFrames * fullFrameLength;
  const finalLength = body.length - finalOffset - MIN_FINAL_FRAME_LENGTH;
  if (finalLength > frameSize) throw new DecryptError();
  if (body.readUInt32BE(finalOffset) !== finalLength) throw new DecryptError();
  return { fullFrames, finalOffset, finalLength };
}

/** Checks a one-shot body's length (tag present, plaintext within the one-shot limit). */
export function checkOneShotBody(bodyLength: number): void {
  if (bodyLength < TAG_LENGTH || bodyLength - TAG_LENGTH > ENVELOPE_LIMITS.oneShotMaxPlaintext) throw new DecryptError();
}
