/**
 * Hard limits of envelope format v1. Every length read from an envelope is checked against
 * these before anything is allocated, and encrypt refuses inputs beyond them.
 */
import { KEYRING_NAME_MAX } from '../vocabulary/keyring-name';

const KIB = 1024;
const MIB = 1024 * KIB;

/**
 * The hard limits of envelope format v1 (see docs/envelope-format.md).
 *
 * @example
 * if (plaintext.length > ENVELOPE_LIMITS.oneShotMaxPlaintext) useStreaming();
 */
export const ENVELOPE_LIMITS = Object.freeze({
  /** Longest keyring name, in bytes (ASCII): the one naming rule's limit. */
  keyringMaxLength: KEYRING_NAME_MAX,
  /** Most key-value pairs in a caller context. */
  contextMaxPairs: 32,
  /** Longest context key, in UTF-8 bytes (keys are never empty). */
  contextKeyMaxBytes: 128,
  /** Longest context value, in UTF-8 bytes. */
  contextValueMaxBytes: 1024,
  /** Largest canonical context encoding, in bytes. */
  contextMaxEncodedBytes: 8 * KIB,
  /** Largest plaintext of a one-shot envelope; bigger data goes through the framed stream. */
  oneShotMaxPlaintext: 64 * MIB,
  /** Smallest frame size of a framed envelope. */
  frameSizeMin: 1 * KIB,
  /** Largest frame size of a framed envelope. */
  frameSizeMax: 4 * MIB,
  /** Frame size used when none is configured. */
  frameSizeDefault: 64 * KIB,
  /** Most frames in one framed envelope (the final frame included). */
  maxFrames: 2 ** 32,
  /** Highest key version a header can carry (u32). */
  maxKeyVersion: 0xffff_ffff,
  /** Longest possible header: 4 + 64 + 4 + (2 + 8 KiB) + 4 (origin version) + 32 + 4 + 40. */
  headerMaxLength: 4 + 64 + 4 + 2 + 8 * KIB + 4 + 32 + 4 + 40,
});

/** The type of {@link ENVELOPE_LIMITS}. */
export type EnvelopeLimits = typeof ENVELOPE_LIMITS;
