/**
 * EnvelopeClient: encrypt, decrypt, re-wrap and inspect envelopes of format v1, in memory or
 * as streams. Version keys come from a {@link VersionKeyProvider}; data keys are fresh per
 * message and zeroed after use.
 */
import type { Transform } from 'node:stream';
import { DecryptError, LimitExceededError, RevokedVersionError, ValidationError, isRekeyError } from '../errors';
import type {
  CallerContext,
  DecryptObserver,
  DecryptOptions,
  Decrypted,
  EncryptOptions,
  EnvelopeClientOptions,
  EnvelopeInfo,
  KeyPurpose,
  RewrapOptions,
  RewrapParts,
  StreamEncryptOptions,
  VersionKeyProvider,
} from './api';
import { FrameOpener, FrameSealer, KEY_LENGTH, createPooledDataKeySource, openOneShot, sealOneShot, wrapDataKey, type DataKeySource } from './envelope-crypto';
import {
  checkFrameSize,
  checkKeyring,
  checkVersion,
  deriveAndCommit,
  headerFields,
  openKeySlot,
  prepareEncryptContext,
  resolveDecryptContext,
  sealKeySlot,
  unwrapKeySlot,
} from './envelope-steps';
import { EnvelopeDecryptStream, EnvelopeEncryptStream } from './envelope-streams';
import { SUITE_FRAMED, SUITE_ONE_SHOT, TAG_LENGTH, framedLayout, checkOneShotBody, headerLayout, parseHeader, writeKeySlot, type ParsedHeader } from './format';
import { inspectEnvelope } from './inspect-envelope';
import { DATA_KEY_SOURCE, type InternalClientOptions } from './internal-seams';
import { ENVELOPE_LIMITS } from './limits';

/** Marker: the re-wrap cannot check the commitment (bound context, neither stored nor supplied). */
const UNCHECKABLE: unique symbol = Symbol('uncheckable');

/**
 * The context bytes a re-wrap checks the key commitment with. A supplied context is resolved
 * as a decrypt would (same typed errors); without one, a header that binds no context or
 * stores it is still fully checkable, and only a bound, unstored context is not: the re-wrap
 * then relies on AES-KW's integrity check, which proves the data key was wrapped under the
 * source version key. The result decrypts exactly where the input did (same data key, same
 * AH, same payload), and a reader checks the commitment with the context it supplies.
 */
function rewrapCommitContext(header: ParsedHeader, context: CallerContext | undefined): Buffer | undefined | typeof UNCHECKABLE {
  if (context !== undefined) return resolveDecryptContext(header, context);
  if (!header.contextBound) return undefined;
  return header.storedContext ?? UNCHECKABLE;
}

function checkEnvelopeInput(envelope: Buffer): void {
  if (!Buffer.isBuffer(envelope)) throw new ValidationError('envelope must be a Buffer');
}

/** Parses the header and checks the body's structure: everything that needs no key. */
function parseEnvelope(envelope: Buffer): ParsedHeader {
  checkEnvelopeInput(envelope);
  const header = parseHeader(envelope);
  const bodyLength = envelope.length - header.headerLength;
  if (header.suite === SUITE_ONE_SHOT) checkOneShotBody(bodyLength);
  else framedLayout(envelope.subarray(header.headerLength), header.frameSize as number);
  return header;
}

/** Opens a framed body held in memory, frame by frame, into one preallocated plaintext. */
function openFramedBody(payloadKey: Buffer, header: ParsedHeader, context: Buffer | undefined, body: Buffer): Buffer {
  const frameSize = header.frameSize as number;
  const layout = framedLayout(body, frameSize);
  const opener = new FrameOpener(payloadKey, header.ah, context, frameSize);
  const plaintext = Buffer.allocUnsafe(layout.fullFrames * frameSize + layout.finalLength);
  const full = frameSize + TAG_LENGTH;
  try {
    for (let i = 0; i < layout.fullFrames; i += 1) {
      const pt = opener.openFrame(body.subarray(i * full, (i + 1) * full));
      pt.copy(plaintext, i * frameSize);
      pt.fill(0);
    }
    const last = opener.openFinal(body.subarray(layout.finalOffset));
    last.copy(plaintext, layout.fullFrames * frameSize);
    last.fill(0);
  } catch (err) {
    plaintext.fill(0);
    opener.destroy();
    throw err;
  }
  return plaintext;
}

/**
 * Encrypts, decrypts, re-wraps and inspects rekey envelopes (format v1: AES-256-GCM payload,
 * per-message data key wrapped by a versioned key, key commitment, authenticated header).
 *
 * @example
 * const client = new EnvelopeClient(new CatalogKeyProvider({ store, vault }));
 * const envelope = await client.encrypt('payments', Buffer.from('card 4111'), { context: { tenant: 'acme' } });
 * const { plaintext } = await client.decrypt(envelope, { context: { tenant: 'acme' } });
 */
export class EnvelopeClient {
  private readonly frameSize: number;
  private readonly observer: DecryptObserver | undefined;
  private readonly dataKeys: DataKeySource;

  public constructor(private readonly provider: VersionKeyProvider, options: EnvelopeClientOptions = {}) {
    this.observer = options.observer;
    this.frameSize = options.frameSize ?? ENVELOPE_LIMITS.frameSizeDefault;
    checkFrameSize(this.frameSize);
    this.dataKeys = (options as InternalClientOptions)[DATA_KEY_SOURCE] ?? createPooledDataKeySource();
  }

  /**
   * Encrypts `plaintext` (up to 64 MiB; use encryptStream beyond) under the keyring's active
   * version, as a one-shot envelope.
   *
   * @example
   * const envelope = await client.encrypt('payments', Buffer.from('secret'));
   */
  public async encrypt(keyring: string, plaintext: Buffer, opts: EncryptOptions = {}): Promise<Buffer> {
    checkKeyring(keyring);
    if (!Buffer.isBuffer(plaintext)) throw new ValidationError('plaintext must be a Buffer');
    if (plaintext.length > ENVELOPE_LIMITS.oneShotMaxPlaintext) {
      throw new LimitExceededError(`one-shot plaintext is at most ${ENVELOPE_LIMITS.oneShotMaxPlaintext} bytes; use encryptStream`);
    }
    const ctx = prepareEncryptContext(opts);
    const fields = headerFields(SUITE_ONE_SHOT, keyring, ctx);
    // A warm key is taken synchronously: no promise hop between the checks and the sealing.
    const { version, key } = this.provider.forEncryptIfWarm?.(keyring) ?? (await this.provider.forEncrypt(keyring));
    const planned = headerLayout(fields);
    const out = Buffer.allocUnsafe(planned.headerLength + plaintext.length + TAG_LENGTH);
    const { derived, layout } = sealKeySlot(out, fields, key, version, this.dataKeys, ctx.encoded, planned);
    try {
      sealOneShot(derived.subarray(0, KEY_LENGTH), out.subarray(0, layout.ahLength), ctx.encoded, plaintext, out, layout.headerLength);
    } finally {
      derived.fill(0);
    }
    return out;
  }

  /**
   * Decrypts an envelope of either suite held in memory. Every parse or authentication
   * failure is the same DecryptError; lifecycle refusals come from the provider.
   *
   * @example
   * const { plaintext, version } = await client.decrypt(envelope, { context: { tenant: 'acme' } });
   */
  public async decrypt(envelope: Buffer, opts: DecryptOptions = {}): Promise<Decrypted> {
    if (this.observer === undefined) return this.open(envelope, opts);
    let result: Decrypted;
    try {
      result = await this.open(envelope, opts);
    } catch (err) {
      this.notifyFailure(envelope, err);
      throw err;
    }
    try {
      this.observer.decrypted(result.keyring, result.version);
    } catch {
      // An observer is for metrics; it never changes the outcome of a decryption.
    }
    return result;
  }

  private notifyFailure(envelope: Buffer, err: unknown): void {
    let keyring: string | undefined;
    let version: number | undefined;
    try {
      const info = inspectEnvelope(envelope);
      keyring = info.keyring;
      version = info.version;
    } catch {
      // Unparseable header: counted without a keyring or version.
    }
    try {
      this.observer?.failed(keyring, version, isRekeyError(err) ? err.code : 'UNEXPECTED');
    } catch {
      // See decrypt: the observer never changes the outcome.
    }
  }

  private async open(envelope: Buffer, opts: DecryptOptions): Promise<Decrypted> {
    const header = parseEnvelope(envelope);
    const context = resolveDecryptContext(header, opts.context);
    const purpose = opts.purpose ?? 'read';
    // A warm key is taken synchronously: no await at all on the steady-state path.
    const versionKey = this.warmKey(header.keyring, header.version, purpose) ?? (await this.provider.forDecrypt(header.keyring, header.version, purpose));
    const derived = openKeySlot(versionKey, header, context);
    const body = envelope.subarray(header.headerLength);
    try {
      const payloadKey = derived.subarray(0, KEY_LENGTH);
      const plaintext = header.suite === SUITE_ONE_SHOT ? openOneShot(payloadKey, header.ah, context, body) : openFramedBody(payloadKey, header, context, body);
      return { plaintext, keyring: header.keyring, version: header.version };
    } finally {
      derived.fill(0);
    }
  }

  /**
   * Re-wraps the envelope's data key under the keyring's active version and returns the new
   * envelope: a copy whose only change is the 44-byte key slot, so the authenticated origin
   * version (the version the data key was created under) is kept. The payload is not
   * decrypted; the key commitment is verified first when it can be: always for an envelope
   * that binds no context or stores it, and for one that binds an unstored context when
   * `context` is given (see {@link RewrapOptions.context}).
   *
   * Throws RevokedVersionError when the envelope's version is revoked, whatever the purpose
   * (its data key may be exposed: re-encrypt such data, never re-wrap it), and ValidationError
   * when `toVersion` is given and is not the active version, or when the active version is
   * older than the data key's origin version.
   *
   * @example
   * const rotated = await client.rewrap(envelope); // now under the active version
   */
  public async rewrap(envelope: Buffer, opts: RewrapOptions = {}): Promise<Buffer> {
    const parts = await this.rewrapParts(envelope, opts);
    const out = Buffer.allocUnsafe(parts.header.length + parts.body.length);
    parts.header.copy(out, 0);
    parts.body.copy(out, parts.header.length);
    return out;
  }

  /**
   * Zero-copy form of {@link rewrap}: the new header, and the body as a view of the input, so
   * that a store can write `header || body` without copying a large payload.
   *
   * @example
   * const { header, body } = await client.rewrapParts(envelope);
   * await store.write([header, body]);
   */
  public async rewrapParts(envelope: Buffer, opts: RewrapOptions = {}): Promise<RewrapParts> {
    if (opts.toVersion !== undefined) checkVersion(opts.toVersion, 'toVersion');
    const header = parseEnvelope(envelope);
    const slot = await this.rewrapSlot(envelope, header, opts);
    return { ...slot, body: envelope.subarray(header.headerLength) };
  }

  /**
   * Header-only re-wrap of a detached header (exactly one header, no payload): for stores that
   * keep headers apart from payloads and re-wrap without reading the payload at all. The
   * authenticated part is kept byte for byte; every parse or authentication failure is the one
   * DecryptError. Same rules as {@link rewrap}: a revoked version is refused, and `toVersion`
   * may only name the active version.
   *
   * @example
   * const { header, version } = await client.rewrapHeader(stored.header);
   */
  public async rewrapHeader(headerBytes: Buffer, opts: RewrapOptions = {}): Promise<Omit<RewrapParts, 'body'>> {
    checkEnvelopeInput(headerBytes);
    if (opts.toVersion !== undefined) checkVersion(opts.toVersion, 'toVersion');
    const header = parseHeader(headerBytes);
    if (header.headerLength !== headerBytes.length) throw new DecryptError();
    return this.rewrapSlot(headerBytes, header, opts);
  }

  /**
   * Unwraps the data key with the old version key, checks its commitment, wraps it under the
   * active version. Both rules of a header-only re-wrap are enforced here, the one place every
   * re-wrap (rewrap, rewrapParts, rewrapHeader, hence the sweeper) goes through.
   */
  private async rewrapSlot(source: Buffer, header: ParsedHeader, opts: RewrapOptions): Promise<Omit<RewrapParts, 'body'>> {
    // The source key is always asked for with purpose 'read', never 'reencrypt': 'read' differs
    // only in refusing a revoked version (RevokedVersionError), whose data key may be in the
    // wrong hands and must be replaced by re-encryption; re-wrapping would keep it readable.
    const commit = rewrapCommitContext(header, opts.context);
    // The data key was created under originVersion: if that version is revoked, the key may be in
    // the wrong hands whatever wraps it now (an envelope re-wrapped before the revocation).
    if (header.originVersion !== header.version && (await this.provider.versionState?.(header.keyring, header.originVersion)) === 'revoked') {
      throw new RevokedVersionError(header.keyring, header.originVersion);
    }
    const oldKey = this.warmKey(header.keyring, header.version, 'read') ?? (await this.provider.forDecrypt(header.keyring, header.version, 'read'));
    const dataKey = unwrapKeySlot(oldKey, header);
    let wrapped: Buffer;
    let version: number;
    try {
      // The commitment check zeroes its own copy; keep the data key for the new wrap.
      if (commit !== UNCHECKABLE) deriveAndCommit(Buffer.from(dataKey), header, commit).fill(0);
      // The target is fetched after the source key is used: provider keys are only good until
      // the next await. It must be the active version: re-wrapping to a rotating version would
      // undo a rotation, to a pending one skip its propagation window.
      const target = this.provider.forEncryptIfWarm?.(header.keyring) ?? (await this.provider.forEncrypt(header.keyring));
      checkVersion(target.version, 'the active version');
      if (opts.toVersion !== undefined && opts.toVersion !== target.version) {
        throw new ValidationError(
          `version ${opts.toVersion} is not the active version of keyring '${header.keyring}' (the active version is ${target.version}): envelopes are re-wrapped only to the active version`,
        );
      }
      // The origin stays in AH, so a key version below it would make an envelope no reader
      // accepts; the active version only grows, so this is a catalog gone wrong.
      if (target.version < header.originVersion) {
        throw new ValidationError(
          `the active version ${target.version} of keyring '${header.keyring}' is older than the version ${header.originVersion} the data key was created under: re-wraps only move forward`,
        );
      }
      version = target.version;
      wrapped = wrapDataKey(target.key, dataKey);
    } finally {
      dataKey.fill(0);
    }
    const out = Buffer.allocUnsafe(header.headerLength);
    source.copy(out, 0, 0, header.ahLength);
    writeKeySlot(out, header.ahLength, version, wrapped);
    return { header: out, version, previousVersion: header.version, originVersion: header.originVersion };
  }

  /**
   * Reads an envelope's header without any key (see {@link inspectEnvelope}).
   *
   * @example
   * client.inspect(envelope).version; // 3
   */
  public inspect(envelope: Buffer): EnvelopeInfo {
    return inspectEnvelope(envelope);
  }

  /**
   * A Transform that encrypts what is written to it into a framed envelope (any size, frames
   * of `frameSize` bytes). The version key is fetched on the first write.
   *
   * @example
   * await pipeline(fs.createReadStream('dump.sql'), client.encryptStream('backups'), fs.createWriteStream('dump.rekey'));
   */
  public encryptStream(keyring: string, opts: StreamEncryptOptions = {}): Transform {
    checkKeyring(keyring);
    const frameSize = opts.frameSize ?? this.frameSize;
    checkFrameSize(frameSize);
    const ctx = prepareEncryptContext(opts);
    const fields = headerFields(SUITE_FRAMED, keyring, ctx, frameSize);
    return new EnvelopeEncryptStream(async () => {
      const { version, key } = await this.provider.forEncrypt(keyring);
      const header = Buffer.allocUnsafe(headerLayout(fields).headerLength);
      const { derived, layout } = sealKeySlot(header, fields, key, version, this.dataKeys, ctx.encoded);
      try {
        return { header, sealer: new FrameSealer(derived.subarray(0, KEY_LENGTH), header.subarray(0, layout.ahLength), ctx.encoded, frameSize) };
      } finally {
        derived.fill(0);
      }
    }, frameSize);
  }

  /**
   * A Transform that decrypts an envelope of either suite written to it. A frame's plaintext
   * is emitted only after that frame authenticates; the stream errors with DecryptError if it
   * ends without a valid final frame.
   *
   * @example
   * await pipeline(fs.createReadStream('dump.rekey'), client.decryptStream(), fs.createWriteStream('dump.sql'));
   */
  public decryptStream(opts: DecryptOptions = {}): Transform {
    return new EnvelopeDecryptStream(async (headerBytes) => {
      const header = parseHeader(headerBytes);
      const context = resolveDecryptContext(header, opts.context);
      const purpose = opts.purpose ?? 'read';
      const versionKey = this.warmKey(header.keyring, header.version, purpose) ?? (await this.provider.forDecrypt(header.keyring, header.version, purpose));
      const derived = openKeySlot(versionKey, header, context);
      return { header, derived, ...(context === undefined ? {} : { context }) };
    });
  }

  /** The provider's synchronous answer for a warm key, or undefined (then the caller awaits forDecrypt). */
  private warmKey(keyring: string, version: number, purpose: KeyPurpose): Buffer | undefined {
    return this.provider.forDecryptIfWarm?.(keyring, version, purpose);
  }
}

