/**
 * The envelope layer: format v1 envelopes (AES-256-GCM payload under a per-message data key,
 * wrapped by a versioned key; key commitment; authenticated header). Spec: docs/envelope-format.md.
 */
export { EnvelopeClient } from './envelope-client';
export { inspectEnvelope } from './inspect-envelope';
export { ENVELOPE_LIMITS } from './limits';
export type { EnvelopeLimits } from './limits';
export { encodeContext } from './context-encoding';
export type {
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
