/**
 * The cryptography of envelope format v1, on node:crypto only: data-key wrap (AES-256-KW),
 * key derivation and commitment (the SP 800-56C one-step KDF over SHA-512), and the
 * AES-256-GCM payload, one-shot or framed (STREAM). No I/O, no parsing; callers zero what
 * these functions return.
 */
import { createCipheriv, createDecipheriv, createSecretKey, hash, randomFillSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { DecryptError, LimitExceededError } from '../errors';
import { COMMITMENT_LENGTH, SUITE_FRAMED, SUITE_ONE_SHOT, TAG_LENGTH, WRAPPED_KEY_LENGTH } from './format';
import { ENVELOPE_LIMITS } from './limits';

/** Length of a data key, a version key and the payload key. */
export const KEY_LENGTH = 32;

const KW_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');
const ZERO_IV = Buffer.alloc(12);
// One frozen options object instead of a literal per call.
const GCM_OPTIONS = Object.freeze({ authTagLength: TAG_LENGTH });

// Node 24 builds a cipher from raw key bytes about 12 µs slower than from a KeyObject (v24.21,
// 1 KiB GCM decrypt: 15.4 µs with a Buffer key, 3.6 µs with a KeyObject made on the spot),
// while Node 20 and 22 are the other way round (a KeyObject made per call costs 0.7-0.9 µs
// more). Keys therefore become KeyObjects only on the runtimes where that is faster. A KeyObject
// holds its copy of the key until it is garbage-collected, as a cipher's key schedule does.
const KEY_OBJECTS = Number(process.versions.node.split('.')[0]) >= 24;

/** The form of a key that node:crypto turns into a cipher fastest on this runtime. */
export function cipherKey(key: Buffer): Buffer | KeyObject {
  return KEY_OBJECTS ? createSecretKey(key) : key;
}

/** The KDF's FixedInfo prefix; the suite byte, the header prefix and the bound context follow it. */
export const KDF_LABEL = 'rekey/v1/';
// SP 800-56C rev2 section 4.1, H = SHA-512, one output block:
//   counter (u32 BE 1) || Z = DK || FixedInfo = "rekey/v1/" || suite || AH' || [context]
// where AH' is the authenticated header before the commitment (it ends with the origin version)
// and the context is the canonical encoding, present exactly when the header's bound flag is set.
const KDF_DK_OFFSET = 4;
const KDF_SUITE_OFFSET = KDF_DK_OFFSET + KEY_LENGTH + KDF_LABEL.length;
const KDF_HEADER_OFFSET = KDF_SUITE_OFFSET + 1;
/** Longest header prefix AH' (the whole header but the commitment and the key slot). */
const MAX_HEADER_PREFIX = ENVELOPE_LIMITS.headerMaxLength - COMMITMENT_LENGTH - 4 - WRAPPED_KEY_LENGTH;
// A scratch input: it holds a data key only inside deriveKeys (synchronous) and the key bytes are
// zeroed before deriveKeys returns, which saves an allocation per message. The header prefix and
// context copied after them are public.
const KDF_INPUT = Buffer.alloc(KDF_HEADER_OFFSET + MAX_HEADER_PREFIX + ENVELOPE_LIMITS.contextMaxEncodedBytes);
KDF_INPUT.writeUInt32BE(1, 0);
KDF_INPUT.write(KDF_LABEL, KDF_DK_OFFSET + KEY_LENGTH, 'latin1');

/** Produces one fresh 32-byte data key; the caller zeroes it after use. */
export type DataKeySource = () => Buffer;

const POOL_SIZE = 4096;

/**
 * A data-key source that draws from a 4 KiB buffer filled by one `randomFillSync` call, so
 * that a message costs a slice instead of a CSPRNG call. Each slice is handed out once and
 * zeroed by its user; the pool refills only when every slice is used.
 */
export function createPooledDataKeySource(): DataKeySource {
  const pool = Buffer.allocUnsafeSlow(POOL_SIZE);
  let offset = POOL_SIZE;
  return () => {
    if (offset === POOL_SIZE) {
      randomFillSync(pool);
      offset = 0;
    }
    const dk = pool.subarray(offset, offset + KEY_LENGTH);
    offset += KEY_LENGTH;
    return dk;
  };
}

// OpenSSL's key-wrap mode works in a single update() call: it emits the whole output and runs
// the RFC 3394 integrity check there (a tampered input throws from update). final() only adds
// about 0.35 µs per message, so it is called only if update() did not emit the whole output.
// Were a future OpenSSL to defer the check to final(), the key commitment would still reject
// the wrong key, and the vector test "rejects a tampered wrap in unwrapDataKey itself" would fail.

/** Wraps a data key under a version key with AES-256-KW (RFC 3394, default IV): 40 bytes. */
export function wrapDataKey(versionKey: Buffer, dataKey: Buffer): Buffer {
  const cipher = createCipheriv('id-aes256-wrap', cipherKey(versionKey), KW_IV);
  const wrapped = cipher.update(dataKey);
  return wrapped.length === WRAPPED_KEY_LENGTH ? wrapped : Buffer.concat([wrapped, cipher.final()]);
}

/** Unwraps a data key; any failure of the RFC 3394 integrity check is a DecryptError. */
export function unwrapDataKey(versionKey: Buffer, wrapped: Buffer): Buffer {
  let dk: Buffer;
  try {
    const decipher = createDecipheriv('id-aes256-wrap', cipherKey(versionKey), KW_IV);
    dk = decipher.update(wrapped);
    if (dk.length !== KEY_LENGTH) dk = Buffer.concat([dk, decipher.final()]);
  } catch {
    // The OpenSSL message is dropped: it would only tell an attacker which check failed.
    throw new DecryptError();
  }
  if (dk.length !== KEY_LENGTH) {
    dk.fill(0);
    throw new DecryptError();
  }
  return dk;
}

/**
 * Derives `K_enc || C` (64 bytes) from a data key with the one-step KDF of NIST SP 800-56C
 * rev2 section 4.1, H = SHA-512:
 * `SHA-512(u32 1 || DK || "rekey/v1/" || suite || headerPrefix || context)`, where
 * `headerPrefix` is the authenticated header before the commitment and `context` the canonical
 * context encoding when the envelope binds one (else undefined). Bytes 0..31 are the payload
 * key, 32..63 the key commitment, which so commits to the data key, the whole authenticated
 * header and the bound context.
 */
export function deriveKeys(dataKey: Buffer, suite: number, headerPrefix: Buffer, context: Buffer | undefined): Buffer {
  if ((suite !== SUITE_ONE_SHOT && suite !== SUITE_FRAMED) || dataKey.length !== KEY_LENGTH) throw new DecryptError();
  const contextLength = context === undefined ? 0 : context.length;
  if (headerPrefix.length > MAX_HEADER_PREFIX || contextLength > ENVELOPE_LIMITS.contextMaxEncodedBytes) throw new DecryptError();
  dataKey.copy(KDF_INPUT, KDF_DK_OFFSET);
  KDF_INPUT[KDF_SUITE_OFFSET] = suite;
  headerPrefix.copy(KDF_INPUT, KDF_HEADER_OFFSET);
  const end = KDF_HEADER_OFFSET + headerPrefix.length;
  if (context !== undefined) context.copy(KDF_INPUT, end);
  try {
    return hash('sha512', KDF_INPUT.subarray(0, end + contextLength), 'buffer');
  } finally {
    KDF_INPUT.fill(0, KDF_DK_OFFSET, KDF_DK_OFFSET + KEY_LENGTH);
  }
}

/** Compares a derived commitment with the header's, in constant time. */
export function commitmentMatches(derived: Buffer, commitment: Buffer): boolean {
  return commitment.length === COMMITMENT_LENGTH && timingSafeEqual(derived.subarray(KEY_LENGTH, KEY_LENGTH + COMMITMENT_LENGTH), commitment);
}

// Large plaintexts are fed to GCM in slices so that each intermediate output stays below
// glibc's mmap threshold and is copied into the envelope while still in cache.
const SEAL_SLICE = 64 * 1024;

/**
 * Seals a one-shot payload into `out` at `offset`: ciphertext then 16-byte tag, IV all zero
 * (the payload key is unique per message). AAD = `ah || context` (context when bound).
 */
export function sealOneShot(payloadKey: Buffer, ah: Buffer, context: Buffer | undefined, plaintext: Buffer, out: Buffer, offset: number): void {
  const cipher = createCipheriv('aes-256-gcm', cipherKey(payloadKey), ZERO_IV);
  cipher.setAAD(ah);
  if (context !== undefined) cipher.setAAD(context);
  let off = offset;
  for (let i = 0; i < plaintext.length; i += SEAL_SLICE) {
    off += cipher.update(plaintext.subarray(i, i + SEAL_SLICE)).copy(out, off);
  }
  off += cipher.final().copy(out, off);
  cipher.getAuthTag().copy(out, off);
}

/**
 * Opens a one-shot payload (`ciphertext || tag`). Returns the plaintext only once the tag
 * verifies; on failure the partial plaintext is zeroed and DecryptError thrown.
 */
export function openOneShot(payloadKey: Buffer, ah: Buffer, context: Buffer | undefined, body: Buffer): Buffer {
  const ctLength = body.length - TAG_LENGTH;
  const decipher = createDecipheriv('aes-256-gcm', cipherKey(payloadKey), ZERO_IV, GCM_OPTIONS);
  decipher.setAAD(ah);
  if (context !== undefined) decipher.setAAD(context);
  decipher.setAuthTag(body.subarray(ctLength));
  const plaintext = decipher.update(body.subarray(0, ctLength));
  try {
    decipher.final();
  } catch {
    plaintext.fill(0);
    throw new DecryptError();
  }
  return plaintext;
}

/** The STREAM nonce of a frame: u64 BE index || u32 BE final flag. */
export function frameNonce(index: number, final: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  // Indices stay below 2^32 (ENVELOPE_LIMITS.maxFrames), so the high word is always zero.
  nonce.writeUInt32BE(index, 4);
  nonce.writeUInt32BE(final ? 1 : 0, 8);
  return nonce;
}

/** Base of the frame sealer and opener: a copy of the payload key and the frame counter. */
abstract class FrameCipher {
  protected readonly key: Buffer;
  protected index = 0;
  protected finished = false;

  protected constructor(payloadKey: Buffer, protected readonly ah: Buffer, protected readonly context: Buffer | undefined, public readonly frameSize: number) {
    // A private copy, so that the caller can zero its derived block at once.
    this.key = Buffer.from(payloadKey);
  }

  /** Zeroes the payload key; the object is unusable afterwards. */
  public destroy(): void {
    this.key.fill(0);
    this.finished = true;
  }

  protected setAad(cipher: { setAAD(b: Buffer): unknown }, prefix?: Buffer): void {
    cipher.setAAD(this.ah);
    if (this.context !== undefined) cipher.setAAD(this.context);
    if (prefix !== undefined) cipher.setAAD(prefix);
  }
}

/** Seals the frames of one framed envelope, in order. */
export class FrameSealer extends FrameCipher {
  public constructor(payloadKey: Buffer, ah: Buffer, context: Buffer | undefined, frameSize: number) {
    super(payloadKey, ah, context, frameSize);
  }

  /** Seals a full frame (exactly frameSize bytes): returns `[ciphertext, tag]`. */
  public sealFrame(plaintext: Buffer): [Buffer, Buffer] {
    // The final frame needs an index too, hence the `+ 1`.
    if (this.index + 1 >= ENVELOPE_LIMITS.maxFrames) throw new LimitExceededError(`a framed envelope holds at most ${ENVELOPE_LIMITS.maxFrames} frames`);
    if (this.finished || plaintext.length !== this.frameSize) throw new RangeError('sealFrame needs exactly frameSize bytes before the final frame');
    const cipher = createCipheriv('aes-256-gcm', cipherKey(this.key), frameNonce(this.index, false));
    this.setAad(cipher);
    const ct = cipher.update(plaintext);
    cipher.final();
    this.index += 1;
    return [ct, cipher.getAuthTag()];
  }

  /** Seals the final frame (0..frameSize bytes): returns `[u32 length, ciphertext, tag]` and zeroes the key. */
  public sealFinal(plaintext: Buffer): [Buffer, Buffer, Buffer] {
    if (this.finished || plaintext.length > this.frameSize) throw new RangeError('the final frame holds at most frameSize bytes');
    const prefix = Buffer.allocUnsafe(4);
    prefix.writeUInt32BE(plaintext.length, 0);
    const cipher = createCipheriv('aes-256-gcm', cipherKey(this.key), frameNonce(this.index, true));
    this.setAad(cipher, prefix);
    const ct = cipher.update(plaintext);
    cipher.final();
    const tag = cipher.getAuthTag();
    this.destroy();
    return [prefix, ct, tag];
  }
}

/** Opens the frames of one framed envelope, in order; each plaintext is returned only once its tag verifies. */
export class FrameOpener extends FrameCipher {
  public constructor(payloadKey: Buffer, ah: Buffer, context: Buffer | undefined, frameSize: number) {
    super(payloadKey, ah, context, frameSize);
  }

  /** Opens a full frame (`ciphertext || tag`, frameSize + 16 bytes). */
  public openFrame(frame: Buffer): Buffer {
    if (this.finished || frame.length !== this.frameSize + TAG_LENGTH || this.index + 1 >= ENVELOPE_LIMITS.maxFrames) throw new DecryptError();
    const pt = this.open(frame.subarray(0, this.frameSize), frame.subarray(this.frameSize), false, undefined);
    this.index += 1;
    return pt;
  }

  /** Opens the final frame (`u32 length || ciphertext || tag`), checking its length prefix; zeroes the key. */
  public openFinal(frame: Buffer): Buffer {
    if (this.finished || frame.length < 4 + TAG_LENGTH) throw new DecryptError();
    const n = frame.readUInt32BE(0);
    if (n > this.frameSize || frame.length !== 4 + n + TAG_LENGTH) throw new DecryptError();
    try {
      return this.open(frame.subarray(4, 4 + n), frame.subarray(4 + n), true, frame.subarray(0, 4));
    } finally {
      this.destroy();
    }
  }

  private open(ct: Buffer, tag: Buffer, final: boolean, prefix: Buffer | undefined): Buffer {
    const decipher = createDecipheriv('aes-256-gcm', cipherKey(this.key), frameNonce(this.index, final), GCM_OPTIONS);
    this.setAad(decipher, prefix);
    decipher.setAuthTag(tag);
    const pt = decipher.update(ct);
    try {
      decipher.final();
    } catch {
      pt.fill(0);
      this.destroy();
      throw new DecryptError();
    }
    return pt;
  }
}
