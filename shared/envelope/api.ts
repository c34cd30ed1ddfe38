/**
 * Contract of the envelope layer (implemented in this folder). Kept apart so that the
 * catalog, cache and re-encryption modules can be written against it.
 */

/** Caller context bound into the envelope's authenticated data (tenant, record id, ...). */
export type CallerContext = Readonly<Record<string, string>>;

/** Why a version key is requested: revoked versions are served only for `reencrypt`. */
export type KeyPurpose = 'read' | 'reencrypt';

/**
 * Where the envelope layer gets version keys. Keys are 32-byte Buffers owned by the provider's
 * cache: callers use them synchronously right after the await (derive or unwrap at once) and
 * never keep or mutate them.
 */
export interface VersionKeyProvider {
  /** The keyring's active version and its key, for encrypting. */
  forEncrypt(keyring: string): Promise<{ readonly version: number; readonly key: Buffer }>;
  /** A specific version's key, for decrypting or re-wrapping. Throws the typed lifecycle errors. */
  forDecrypt(keyring: string, version: number, purpose: KeyPurpose): Promise<Buffer>;
  /**
   * Optional synchronous fast path of {@link forEncrypt}: the same answer when it is at hand
   * without I/O (fresh catalog, key cached within its TTL and use budget, counted as a use),
   * else undefined, and the client falls back to forEncrypt. Never throws for a cold key.
   */
  forEncryptIfWarm?(keyring: string): { readonly version: number; readonly key: Buffer } | undefined;
  /**
   * Optional synchronous fast path of {@link forDecrypt}, same contract: the key only when
   * forDecrypt would return it without I/O, else undefined (refusals are left to forDecrypt).
   */
  forDecryptIfWarm?(keyring: string, version: number, purpose: KeyPurpose): Buffer | undefined;
  /**
   * Optional: a version's lifecycle state (undefined when unknown). A re-wrap asks it for the
   * version the data key was created under: a data key that a revoked version once wrapped must
   * be replaced by re-encryption, never carried forward under a new wrap.
   */
  versionState?(keyring: string, version: number): Promise<string | undefined>;
}

/** What `inspect` tells about an envelope without any key: no secret, no plaintext. */
export interface EnvelopeInfo {
  readonly formatVersion: number;
  readonly suite: string;
  readonly keyring: string;
  /** The version whose key wraps the data key now (changes with every header-only re-wrap). */
  readonly version: number;
  /**
   * The version under which the data key was created (authenticated in the header, kept by
   * header-only re-wraps; a re-encryption makes a new data key with a new origin). Every data
   * key a version ever wrapped has originVersion <= that version and is still readable with
   * it, so revoking version R exposes every envelope with originVersion <= R not re-encrypted
   * since. Always 1 <= originVersion <= version.
   */
  readonly originVersion: number;
  readonly framed: boolean;
  readonly frameSize?: number;
  readonly contextBound: boolean;
  /** Only when the caller asked for the context to be stored in clear. */
  readonly storedContext?: CallerContext;
  readonly headerLength: number;
  readonly totalLength: number;
}

/** Options of encrypt. */
export interface EncryptOptions {
  readonly context?: CallerContext;
  /** Store the context in clear in the header (default false: it is only authenticated). */
  readonly storeContext?: boolean;
}

/** Options of decrypt. */
export interface DecryptOptions {
  readonly context?: CallerContext;
  /** `reencrypt` is reserved for the re-encryption worker and may read revoked versions. */
  readonly purpose?: KeyPurpose;
}

/** The result of a decryption. */
export interface Decrypted {
  readonly plaintext: Buffer;
  readonly keyring: string;
  readonly version: number;
}

/** Options of encryptStream: the encrypt options plus the frame size. */
export interface StreamEncryptOptions extends EncryptOptions {
  /** Plaintext bytes per frame, 1 KiB .. 4 MiB. @default the client's frameSize (64 KiB) */
  readonly frameSize?: number;
}

/** Options of the EnvelopeClient constructor. */
export interface EnvelopeClientOptions {
  /** Default frame size of encryptStream, 1 KiB .. 4 MiB. @default 65536 */
  readonly frameSize?: number;
  /** Told about every in-memory decryption, for metrics (see {@link DecryptObserver}). */
  readonly observer?: DecryptObserver;
}

/**
 * Told the outcome of every in-memory decryption: decrypt failures by version are what the
 * circuit breaker watches during a rotation. It receives identifiers and an error code only,
 * never plaintext, keys or messages; it must not throw (an exception is swallowed).
 */
export interface DecryptObserver {
  decrypted(keyring: string, version: number): void;
  /** `keyring` and `version` are undefined when the header itself could not be parsed. */
  failed(keyring: string | undefined, version: number | undefined, code: string): void;
}

/** Options of rewrap and rewrapParts. */
export interface RewrapOptions {
  /** Version to wrap the data key under: only the keyring's active version is accepted. @default the active version */
  readonly toVersion?: number;
  /**
   * The caller context the envelope is bound to. Optional: without it, a re-wrap checks the key
   * commitment whenever the header alone allows (no context bound, or the context stored); with
   * it, also for a bound context that is not stored. Checked as decrypt checks it
   * (ContextMismatchError when it differs from a stored one, DecryptError when the envelope
   * binds none or the commitment fails).
   */
  readonly context?: CallerContext;
  /**
   * Accepted for compatibility and ignored: a re-wrap always reads the current version with
   * purpose `read`, so a revoked version (whose data key is compromised) is never re-wrapped,
   * only re-encrypted.
   */
  readonly purpose?: KeyPurpose;
}

/**
 * A re-wrapped envelope in two parts, so that a store can write it without copying the
 * payload: `header || body` is the new envelope.
 */
export interface RewrapParts {
  /** The new header (a fresh buffer, AH unchanged, key slot replaced). */
  readonly header: Buffer;
  /** The payload: a view of the input envelope, byte-identical. */
  readonly body: Buffer;
  /** The version now wrapping the data key. */
  readonly version: number;
  /** The version that wrapped it before. */
  readonly previousVersion: number;
  /** The version the data key was created under: unchanged by the re-wrap (see {@link EnvelopeInfo.originVersion}). */
  readonly originVersion: number;
}
