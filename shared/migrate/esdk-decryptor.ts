/**
 * The AWS Encryption SDK as a migration's {@link SourceDecryptor}: opens messages written by
 * the SDK (any language; message format v1 or v2) with a KMS keyring or a raw AES keyring.
 * `@aws-crypto/client-node` is an optional peer dependency, loaded only when an ESDK decryptor
 * is made, so a plaintext migration (and every application Lambda) never loads it.
 *
 * SDK behaviour relied on (AWS Encryption SDK for JavaScript, developer guide):
 * - commitment policy REQUIRE_ENCRYPT_ALLOW_DECRYPT decrypts both committing (v2) and legacy
 *   non-committing (v1) messages; https://docs.aws.amazon.com/encryption-sdk/latest/developer-guide/migrate-commitment-policy.html
 * - maxEncryptedDataKeys bounds the data keys a message may carry;
 *   https://docs.aws.amazon.com/encryption-sdk/latest/developer-guide/configure.html#config-limit-keys
 * - `decrypt` returns the plaintext and the message header, whose `encryptionContext` the caller
 *   checks itself; https://docs.aws.amazon.com/encryption-sdk/latest/developer-guide/js-examples.html
 */
import type { KMSClientConfig } from '@aws-sdk/client-kms';
import { ContextMismatchError, DecryptError, ValidationError } from '../errors';
import type { SourceDecrypted, SourceDecryptor } from './migration-ports';

/** A raw AES keyring: the wrapping key and its name, exactly as the messages were encrypted with. */
export interface EsdkRawAesKeyringSpec {
  readonly kind: 'raw-aes';
  readonly keyNamespace: string;
  readonly keyName: string;
  /** 16, 24 or 32 bytes. Copied; the caller may zero its buffer afterwards. */
  readonly key: Buffer;
}

/** A KMS keyring: the KMS keys (ARNs) the messages' data keys were encrypted under, or discovery. */
export interface EsdkKmsKeyringSpec {
  readonly kind: 'kms';
  /** Key ARNs allowed to decrypt (strict mode). Give this, or `discovery`. */
  readonly keyIds?: readonly string[];
  /** Discovery mode limited to these accounts of this partition (any key there may decrypt). */
  readonly discovery?: { readonly partition: string; readonly accountIds: readonly string[] };
  /** Configuration of the KMS clients the SDK makes per region (endpoint, credentials). */
  readonly clientConfig?: KMSClientConfig;
  readonly grantTokens?: readonly string[];
}

/** Options of {@link createEsdkDecryptor}. */
export interface EsdkDecryptorOptions {
  readonly keyring: EsdkRawAesKeyringSpec | EsdkKmsKeyringSpec;
  /**
   * Encryption context every message must carry (these pairs, and any others): a message whose
   * context lacks one of them is not migrated (`source-context-mismatch`).
   */
  readonly requiredContext?: Readonly<Record<string, string>>;
  /** Most encrypted data keys accepted in one message. @default 10 */
  readonly maxEncryptedDataKeys?: number;
  /** Largest plaintext accepted, in bytes. @default 64 MiB (a rekey one-shot envelope's limit) */
  readonly maxBodySize?: number;
}

/** Minimal view of the SDK keyring instance (its type is the SDK's). */
type EsdkModule = typeof import('@aws-crypto/client-node');

function buildKeyring(esdk: EsdkModule, spec: EsdkDecryptorOptions['keyring']): InstanceType<EsdkModule['RawAesKeyringNode']> | InstanceType<EsdkModule['KmsKeyringNode']> {
  if (spec.kind === 'raw-aes') {
    const bySize: Record<number, EsdkModule['RawAesWrappingSuiteIdentifier'][keyof EsdkModule['RawAesWrappingSuiteIdentifier']]> = {
      16: esdk.RawAesWrappingSuiteIdentifier.AES128_GCM_IV12_TAG16_NO_PADDING,
      24: esdk.RawAesWrappingSuiteIdentifier.AES192_GCM_IV12_TAG16_NO_PADDING,
      32: esdk.RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    };
    const wrappingSuite = Buffer.isBuffer(spec.key) ? bySize[spec.key.length] : undefined;
    if (wrappingSuite === undefined) throw new ValidationError('a raw AES wrapping key must be 16, 24 or 32 bytes');
    if (spec.keyName.length === 0 || spec.keyNamespace.length === 0) throw new ValidationError('a raw AES keyring needs a key name and a key namespace');
    return new esdk.RawAesKeyringNode({ keyName: spec.keyName, keyNamespace: spec.keyNamespace, unencryptedMasterKey: new Uint8Array(spec.key), wrappingSuite });
  }
  const hasKeys = spec.keyIds !== undefined && spec.keyIds.length > 0;
  if (hasKeys === (spec.discovery !== undefined)) throw new ValidationError('a KMS keyring needs either keyIds or discovery');
  const clientProvider = esdk.getClient(esdk.KMS, { ...spec.clientConfig });
  const grantTokens = spec.grantTokens === undefined ? {} : { grantTokens: [...spec.grantTokens] };
  if (hasKeys) return new esdk.KmsKeyringNode({ clientProvider, keyIds: [...(spec.keyIds ?? [])], ...grantTokens });
  const d = spec.discovery as NonNullable<EsdkKmsKeyringSpec['discovery']>;
  return new esdk.KmsKeyringNode({ clientProvider, discovery: true, discoveryFilter: { partition: d.partition, accountIDs: [...d.accountIds] }, ...grantTokens });
}

/**
 * A SourceDecryptor over the AWS Encryption SDK. Every failure to open a message is the one
 * DecryptError (nothing of the SDK's message or the data is passed on); a context requirement
 * not met is a ContextMismatchError.
 *
 * @example
 * const decryptor = await createEsdkDecryptor({
 *   keyring: { kind: 'kms', keyIds: ['arn:aws:kms:eu-west-1:111122223333:key/1234abcd-...'] },
 *   requiredContext: { purpose: 'orders' },
 * });
 * await migrateRecords({ keyring: 'orders', from: 'esdk', decryptor, store, envelopes: rekey });
 */
export async function createEsdkDecryptor(options: EsdkDecryptorOptions): Promise<SourceDecryptor> {
  const maxKeys = options.maxEncryptedDataKeys ?? 10;
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1 || maxKeys > 65_535) throw new ValidationError('maxEncryptedDataKeys must be an integer from 1 to 65535');
  const maxBodySize = options.maxBodySize ?? 64 * 1024 * 1024;
  if (!Number.isSafeInteger(maxBodySize) || maxBodySize < 1) throw new ValidationError('maxBodySize must be a positive integer');
  const required = Object.entries(options.requiredContext ?? {});
  let esdk: EsdkModule;
  try {
    esdk = await import('@aws-crypto/client-node');
  } catch (err) {
    throw new ValidationError("migrating AWS Encryption SDK messages needs the package '@aws-crypto/client-node' (npm install @aws-crypto/client-node)", { cause: err });
  }
  const keyring = buildKeyring(esdk, options.keyring);
  const { decrypt } = esdk.buildClient({ commitmentPolicy: esdk.CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT, maxEncryptedDataKeys: maxKeys });
  return {
    async decrypt(message: Buffer): Promise<SourceDecrypted> {
      let out;
      try {
        out = await decrypt(keyring, message, { maxBodySize });
      } catch {
        // The SDK's message may name what failed; the one vague error leaves no oracle.
        throw new DecryptError();
      }
      const plaintext = Buffer.from(out.plaintext.buffer, out.plaintext.byteOffset, out.plaintext.byteLength);
      const context: Record<string, string> = { ...out.messageHeader.encryptionContext };
      for (const [k, v] of required) {
        if (context[k] !== v) {
          plaintext.fill(0);
          throw new ContextMismatchError();
        }
      }
      return { plaintext, context };
    },
  };
}
