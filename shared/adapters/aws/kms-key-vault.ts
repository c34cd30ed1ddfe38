/**
 * KeyVault over AWS KMS: version keys are KMS data keys (AES-256), always bound to an
 * encryption context, and unwrapped with an explicit KeyId so that a blob of another key, or
 * the right blob under another context, fails instead of silently decrypting.
 */
import { FUNCTION_SDK_TIMEOUTS, newSdkClient } from './sdk-client-options';
import {
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  KMSClient,
  type KMSClientConfig,
} from '@aws-sdk/client-kms';
import { BackendError, ValidationError } from '../../errors';
import type { EncryptionContext, GeneratedKey, KeyVault, WrappedKey } from '../../ports/key-vault';
import { keyArnInRegion } from './kms-key-arn';
import { mapAwsError } from './map-aws-error';

/** Options of {@link KmsKeyVault}. */
export interface KmsKeyVaultOptions {
  /**
   * A ready KMS client (tests, shared clients). When given, `clientConfig`, `maxAttempts` and
   * `retryMode` are ignored: configure retries on the client itself.
   */
  readonly client?: KMSClient;
  /** Configuration of the client built when `client` is absent (region, endpoint, credentials). */
  readonly clientConfig?: KMSClientConfig;
  /** KMS key (ARN, id or alias) used when a call names none. @default none: every call must name one */
  readonly defaultKeyId?: string;
  /** Total attempts per call, first one included, before a throttle becomes ThrottledError. @default 5 */
  readonly maxAttempts?: number;
  /**
   * SDK retry mode. `adaptive` adds client-side rate limiting on top of backoff with jitter,
   * which keeps a fleet of Lambdas from hammering a throttled key. @default 'adaptive'
   */
  readonly retryMode?: 'standard' | 'adaptive';
  /**
   * The Region this vault's client calls. A multi-Region key named by another Region's ARN (the
   * home Region's, as a catalog records it) is then called as this Region's replica, which holds
   * the same key material (see kms-key-arn.ts); a single-Region key is called as named.
   * @default none: every identifier is used as given
   */
  readonly region?: string;
}

const KEY_BYTES = 32;

function copyAndZero(bytes: Uint8Array): Buffer {
  const out = Buffer.from(bytes);
  bytes.fill(0);
  return out;
}

/**
 * {@link KeyVault} backed by AWS KMS (`kind` = `kms`).
 *
 * @example
 * const vault = new KmsKeyVault({ clientConfig: { region: 'eu-west-1' }, defaultKeyId: keyArn });
 * const { plaintext, wrapped, wrappingKeyId } = await vault.generateKey({ keyring: 'orders', version: '3' });
 */
export class KmsKeyVault implements KeyVault {
  public readonly kind = 'kms';
  private readonly client: KMSClient;
  private readonly defaultKeyId: string | undefined;
  private readonly region: string | undefined;

  public constructor(options: KmsKeyVaultOptions = {}) {
    const maxAttempts = options.maxAttempts ?? 5;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 20) {
      throw new ValidationError('maxAttempts must be an integer between 1 and 20');
    }
    this.client = options.client ?? newSdkClient(KMSClient, { ...options.clientConfig, retryMode: options.retryMode ?? 'adaptive' }, { ...FUNCTION_SDK_TIMEOUTS, maxAttempts });
    this.defaultKeyId = options.defaultKeyId;
    this.region = options.region;
  }

  /** Generates a 256-bit data key under the KMS key, bound to `context`. */
  public async generateKey(context: EncryptionContext, wrappingKeyId?: string): Promise<GeneratedKey> {
    const keyId = this.keyIdFor(wrappingKeyId);
    const encryptionContext = checkContext(context);
    let out;
    try {
      out = await this.client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: encryptionContext }));
    } catch (err) {
      throw mapAwsError(err, { resource: `KMS key ${keyId}` });
    }
    if (out.Plaintext === undefined || out.Plaintext.length !== KEY_BYTES || out.CiphertextBlob === undefined) {
      if (out.Plaintext !== undefined) out.Plaintext.fill(0);
      throw new BackendError(`KMS GenerateDataKey for key ${keyId} returned an unexpected response`, { retryable: false });
    }
    return {
      plaintext: copyAndZero(out.Plaintext),
      wrapped: Buffer.from(out.CiphertextBlob),
      // The ARN KMS reports, not the alias the caller used: the catalog must name the real key.
      wrappingKeyId: out.KeyId ?? keyId,
    };
  }

  /**
   * Generates a 256-bit data key under the KMS key, bound to `context`, and receives only its
   * wrapped form (GenerateDataKeyWithoutPlaintext): the caller needs no permission that returns
   * key material.
   */
  public async generateWrappedKey(context: EncryptionContext, wrappingKeyId?: string): Promise<WrappedKey> {
    const keyId = this.keyIdFor(wrappingKeyId);
    const encryptionContext = checkContext(context);
    let out;
    try {
      out = await this.client.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: encryptionContext }));
    } catch (err) {
      throw mapAwsError(err, { resource: `KMS key ${keyId}` });
    }
    if (out.CiphertextBlob === undefined || out.CiphertextBlob.length === 0) {
      throw new BackendError(`KMS GenerateDataKeyWithoutPlaintext for key ${keyId} returned an unexpected response`, { retryable: false });
    }
    // The ARN KMS reports, not the alias the caller used: the catalog must name the real key.
    return { wrapped: Buffer.from(out.CiphertextBlob), wrappingKeyId: out.KeyId ?? keyId };
  }

  /** Decrypts a wrapped key with KeyId and context pinned; any mismatch is a DecryptError. */
  public async unwrap(wrapped: Buffer, context: EncryptionContext, wrappingKeyId?: string): Promise<Buffer> {
    const keyId = this.keyIdFor(wrappingKeyId);
    const encryptionContext = checkContext(context);
    if (!Buffer.isBuffer(wrapped) || wrapped.length === 0) throw new ValidationError('wrapped key must be a non-empty Buffer');
    let out;
    try {
      out = await this.client.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: wrapped, EncryptionContext: encryptionContext }));
    } catch (err) {
      throw mapAwsError(err, { resource: `KMS key ${keyId}` });
    }
    if (out.Plaintext === undefined || out.Plaintext.length === 0) {
      throw new BackendError(`KMS Decrypt for key ${keyId} returned no plaintext`, { retryable: false });
    }
    return copyAndZero(out.Plaintext);
  }

  /** Encrypts existing key material under the KMS key and `context`. */
  public async wrap(plaintext: Buffer, context: EncryptionContext, wrappingKeyId?: string): Promise<Buffer> {
    const keyId = this.keyIdFor(wrappingKeyId);
    const encryptionContext = checkContext(context);
    // KMS Encrypt takes at most 4096 bytes; rekey only ever wraps 32-byte keys.
    if (!Buffer.isBuffer(plaintext) || plaintext.length === 0 || plaintext.length > 4096) {
      throw new ValidationError('key material to wrap must be a Buffer of 1 to 4096 bytes');
    }
    let out;
    try {
      out = await this.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: encryptionContext }));
    } catch (err) {
      throw mapAwsError(err, { resource: `KMS key ${keyId}` });
    }
    if (out.CiphertextBlob === undefined) {
      throw new BackendError(`KMS Encrypt for key ${keyId} returned no ciphertext`, { retryable: false });
    }
    return Buffer.from(out.CiphertextBlob);
  }

  private keyIdFor(wrappingKeyId: string | undefined): string {
    const keyId = wrappingKeyId ?? this.defaultKeyId;
    if (keyId === undefined || keyId.length === 0) {
      throw new ValidationError('no KMS key id given and no defaultKeyId configured');
    }
    return this.region === undefined ? keyId : keyArnInRegion(keyId, this.region);
  }
}

function checkContext(context: EncryptionContext): Record<string, string> {
  if (typeof context !== 'object' || context === null) throw new ValidationError('encryption context must be an object');
  const entries = Object.entries(context);
  // An empty context would let any holder of the blob unwrap it for any purpose.
  if (entries.length === 0) throw new ValidationError('encryption context must not be empty');
  for (const [k, v] of entries) {
    if (k.length === 0 || typeof v !== 'string') throw new ValidationError('encryption context keys must be non-empty and values strings');
  }
  return { ...context };
}
