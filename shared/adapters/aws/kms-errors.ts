/**
 * Translation of AWS KMS failures into rekey's error hierarchy. Messages name the KMS key
 * (an ARN or alias is not a secret) and never a byte of key material or ciphertext.
 */
import {
  AccessDeniedError,
  BackendError,
  DecryptError,
  KeyUnavailableError,
  RekeyError,
  ThrottledError,
} from '../../errors';

interface KmsErrorShape {
  readonly name?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $retryable?: { readonly throttling?: boolean };
}

const KEY_UNAVAILABLE = new Set([
  'DisabledException',
  'KMSInvalidStateException',
  'NotFoundException',
  'KeyUnavailableException',
  'InvalidKeyUsageException',
]);
const NOT_FOR_THIS_KEY = new Set(['InvalidCiphertextException', 'IncorrectKeyException']);
const THROTTLED = new Set(['ThrottlingException', 'LimitExceededException']);
const DENIED = new Set(['AccessDeniedException', 'UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException']);

/**
 * Maps a KMS failure (after the SDK's own retries) to a {@link RekeyError}.
 *
 * @example
 * try { await kms.send(cmd); } catch (err) { throw mapKmsError(err, keyId); }
 */
export function mapKmsError(err: unknown, keyId: string): RekeyError {
  if (err instanceof RekeyError) return err;
  const e = typeof err === 'object' && err !== null ? (err as KmsErrorShape) : {};
  const name = e.name ?? '';
  if (KEY_UNAVAILABLE.has(name)) {
    // Disabled, pending deletion, pending import, missing, or the wrong key type: no retry helps
    // until an operator acts, so this is not marked retryable.
    return new KeyUnavailableError(`KMS key ${keyId} is unavailable (${name})`, { cause: err });
  }
  if (NOT_FOR_THIS_KEY.has(name)) {
    // Wrong key, wrong encryption context, or a tampered blob: one vague error, no oracle.
    return new DecryptError({ cause: err });
  }
  if (THROTTLED.has(name) || e.$retryable?.throttling === true) {
    return new ThrottledError(`KMS throttled requests for key ${keyId}`, { cause: err });
  }
  if (DENIED.has(name) || e.$metadata?.httpStatusCode === 403) {
    return new AccessDeniedError(`access denied to KMS key ${keyId} (${name || 'forbidden'})`, { cause: err });
  }
  return new BackendError(`KMS request for key ${keyId} failed (${name || 'no response'})`, { cause: err });
}
