/**
 * The ports of the re-encryption engine, named by role so that it depends on behaviour rather
 * than on concrete classes: `EnvelopeClient` satisfies {@link EnvelopeOps},
 * `CatalogKeyProvider` satisfies {@link VersionLookup}.
 */
import type { VersionState } from '../catalog/model';
import type { Decrypted, DecryptOptions, EncryptOptions, EnvelopeInfo, KeyPurpose } from '../envelope/api';

/** The envelope operations the engine uses (a subset of EnvelopeClient). */
export interface EnvelopeOps {
  encrypt(keyring: string, plaintext: Buffer, opts?: EncryptOptions): Promise<Buffer>;
  decrypt(envelope: Buffer, opts?: DecryptOptions): Promise<Decrypted>;
  rewrap(envelope: Buffer, opts?: { toVersion?: number; purpose?: KeyPurpose }): Promise<Buffer>;
  inspect(envelope: Buffer): EnvelopeInfo;
}

/** Lifecycle lookups: a version's state and the keyring's active version. */
export interface VersionLookup {
  versionState(keyring: string, version: number): Promise<VersionState | undefined>;
  forEncrypt(keyring: string): Promise<{ readonly version: number; readonly key: Buffer }>;
}

/** Counters the engine emits (names and counts only, never values from records). */
export interface ReencryptMetrics {
  increment(name: string, by?: number): void;
}
