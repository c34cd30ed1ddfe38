/**
 * KeyVault: the KMS-like service that protects version keys. A version key is generated
 * by the vault, returned once in plaintext (to be used, then zeroed) and stored only wrapped.
 * The encryption context is authenticated by the vault: unwrapping with another context fails.
 */

/** Key-value pairs bound to a wrapped key; rekey always sets `{ keyring, version }`. */
export type EncryptionContext = Readonly<Record<string, string>>;

/** A freshly generated version key. */
export interface GeneratedKey {
  /** 32 bytes of key material. The caller zeroes it after use. */
  readonly plaintext: Buffer;
  /** The same key wrapped by the vault, safe to store. */
  readonly wrapped: Buffer;
  /** Which vault key wrapped it (KMS key ARN, or `local:<fingerprint>`). */
  readonly wrappingKeyId: string;
}

/** A freshly generated version key in wrapped form only (nobody ever saw its plaintext). */
export interface WrappedKey {
  /** The key wrapped by the vault, safe to store. */
  readonly wrapped: Buffer;
  /** Which vault key wrapped it (KMS key ARN, or `local:<fingerprint>`). */
  readonly wrappingKeyId: string;
}

/** Port to a key-wrapping service (AWS KMS, or the local key file). */
export interface KeyVault {
  /** Short name for logs and metrics (`kms`, `local`). */
  readonly kind: string;
  /** Generates a 256-bit key and returns it in plaintext and wrapped under `context`. */
  generateKey(context: EncryptionContext, wrappingKeyId?: string): Promise<GeneratedKey>;
  /**
   * Generates a 256-bit key and returns it only wrapped under `context`: creating a version
   * stores the wrapped form and nothing else, so the creator needs no right to see key material
   * (on KMS: GenerateDataKeyWithoutPlaintext). Optional: a vault without it falls back to
   * {@link generateKey} with the plaintext wiped at once.
   */
  generateWrappedKey?(context: EncryptionContext, wrappingKeyId?: string): Promise<WrappedKey>;
  /** Unwraps a key wrapped by {@link generateKey} or {@link wrap}; fails unless `context` is identical. */
  unwrap(wrapped: Buffer, context: EncryptionContext, wrappingKeyId?: string): Promise<Buffer>;
  /** Wraps existing key material (escrow under a separate key uses this). */
  wrap(plaintext: Buffer, context: EncryptionContext, wrappingKeyId?: string): Promise<Buffer>;
}
