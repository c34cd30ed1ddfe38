/**
 * Recognizes an AWS Encryption SDK message by its header, bytes only: enough to tell such a
 * message from plaintext and from a rekey envelope, never to decrypt it (the SDK does that).
 * Every length read from the input is checked against the bytes present and against
 * {@link ESDK_HEADER_LIMITS} before it is used, so a hostile record costs a bounded parse.
 *
 * Layout (AWS Encryption SDK message format reference, "Header"):
 * https://docs.aws.amazon.com/encryption-sdk/latest/developer-guide/message-format.html
 * - v1: version 0x01, type 0x80, algorithm id (2), message id (16), AAD length (2) and AAD,
 *   encrypted data key count (2) and keys, content type (1), reserved (4, zero), IV length (1),
 *   frame length (4), header authentication: IV (IV length) and tag (16).
 * - v2: version 0x02, algorithm id (2), message id (32), AAD length (2) and AAD, encrypted data
 *   key count (2) and keys, content type (1), frame length (4), algorithm suite data (32),
 *   header authentication tag (16).
 * AAD is empty (length 0) or a key-value pair count (2) then pairs of (length (2), bytes);
 * each encrypted data key is provider id, provider info and ciphertext, each (length (2), bytes).
 */

/** Algorithm suite ids of message format v1 (non-committing suites). */
export const ESDK_V1_SUITES: ReadonlySet<number> = new Set([0x0014, 0x0046, 0x0078, 0x0114, 0x0146, 0x0178, 0x0214, 0x0346, 0x0378]);
/** Algorithm suite ids of message format v2 (key-committing suites). */
export const ESDK_V2_SUITES: ReadonlySet<number> = new Set([0x0478, 0x0578]);

/** Bounds of the header recognizer. */
export const ESDK_HEADER_LIMITS = Object.freeze({
  /** Most encrypted data keys accepted in one header (the SDK's maxEncryptedDataKeys advice). */
  maxEncryptedDataKeys: 64,
  /** Longest header examined, in bytes. */
  maxHeaderBytes: 1024 * 1024,
});

/** What the recognizer found. */
export type EsdkProbe =
  /** Not an ESDK message: the first bytes already differ. */
  | { readonly kind: 'none' }
  /** The first bytes are an ESDK message's, but the header does not parse: neither plaintext nor a message. */
  | { readonly kind: 'malformed' }
  /** A well-formed ESDK message header. */
  | { readonly kind: 'esdk'; readonly formatVersion: 1 | 2; readonly suiteId: number; readonly headerLength: number; readonly framed: boolean };

class Cursor {
  public offset: number;
  public constructor(private readonly buf: Buffer, start: number) {
    this.offset = start;
  }

  /** Advances by `n` bytes; false when fewer remain or the header would grow past the limit. */
  public skip(n: number): boolean {
    if (this.offset + n > this.buf.length || this.offset + n > ESDK_HEADER_LIMITS.maxHeaderBytes) return false;
    this.offset += n;
    return true;
  }

  public u8(): number | undefined {
    if (this.offset + 1 > this.buf.length) return undefined;
    const v = this.buf[this.offset] as number;
    this.offset += 1;
    return v;
  }

  public u16(): number | undefined {
    if (this.offset + 2 > this.buf.length) return undefined;
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  public u32(): number | undefined {
    if (this.offset + 4 > this.buf.length) return undefined;
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** A u16 length then that many bytes, required non-empty when `nonEmpty`. */
  public field(nonEmpty: boolean): boolean {
    const n = this.u16();
    return n !== undefined && (!nonEmpty || n > 0) && this.skip(n);
  }
}

// AAD: length 0 (no context) or a pair count and the pairs, which must fill the length exactly.
function aad(c: Cursor): boolean {
  const length = c.u16();
  if (length === undefined) return false;
  if (length === 0) return true;
  const end = c.offset + length;
  const pairs = c.u16();
  if (pairs === undefined || pairs === 0) return false;
  for (let i = 0; i < pairs; i += 1) {
    if (!c.field(true) || !c.field(false) || c.offset > end) return false;
  }
  return c.offset === end;
}

function dataKeys(c: Cursor): boolean {
  const count = c.u16();
  if (count === undefined || count === 0 || count > ESDK_HEADER_LIMITS.maxEncryptedDataKeys) return false;
  for (let i = 0; i < count; i += 1) {
    if (!c.field(true) || !c.field(false) || !c.field(true)) return false;
  }
  return true;
}

/**
 * Recognizes an ESDK message header at the start of `bytes` (format v1 or v2).
 *
 * @example
 * probeEsdkHeader(Buffer.from('{"name":"Ada"}')).kind; // 'none'
 * probeEsdkHeader(await client.encrypt(keyring, data).then((r) => r.result)).kind; // 'esdk'
 */
export function probeEsdkHeader(bytes: Buffer): EsdkProbe {
  if (bytes.length < 3) return { kind: 'none' };
  const version = bytes[0] as number;
  if (version === 0x01) {
    if (bytes[1] !== 0x80 || bytes.length < 4 || !ESDK_V1_SUITES.has(bytes.readUInt16BE(2))) return { kind: 'none' };
    return parseV1(bytes);
  }
  if (version === 0x02) {
    if (!ESDK_V2_SUITES.has(bytes.readUInt16BE(1))) return { kind: 'none' };
    return parseV2(bytes);
  }
  return { kind: 'none' };
}

function parseV1(bytes: Buffer): EsdkProbe {
  const malformed: EsdkProbe = { kind: 'malformed' };
  const suiteId = bytes.readUInt16BE(2);
  const c = new Cursor(bytes, 4);
  if (!c.skip(16) || !aad(c) || !dataKeys(c)) return malformed;
  const contentType = c.u8();
  if (contentType !== 0x01 && contentType !== 0x02) return malformed;
  const reserved = c.u32();
  const ivLength = c.u8();
  const frameLength = c.u32();
  if (reserved !== 0 || ivLength !== 12 || frameLength === undefined) return malformed;
  // A non-framed message has frame length 0; a framed one a positive frame length.
  if ((contentType === 0x01) !== (frameLength === 0)) return malformed;
  if (!c.skip(ivLength + 16)) return malformed;
  return { kind: 'esdk', formatVersion: 1, suiteId, headerLength: c.offset, framed: contentType === 0x02 };
}

function parseV2(bytes: Buffer): EsdkProbe {
  const malformed: EsdkProbe = { kind: 'malformed' };
  const suiteId = bytes.readUInt16BE(1);
  const c = new Cursor(bytes, 3);
  if (!c.skip(32) || !aad(c) || !dataKeys(c)) return malformed;
  const contentType = c.u8();
  if (contentType !== 0x01 && contentType !== 0x02) return malformed;
  const frameLength = c.u32();
  if (frameLength === undefined || (contentType === 0x01) !== (frameLength === 0)) return malformed;
  if (!c.skip(32 + 16)) return malformed;
  return { kind: 'esdk', formatVersion: 2, suiteId, headerLength: c.offset, framed: contentType === 0x02 };
}
