/**
 * The sweeper's view of header-only re-wrap: a store keeping headers apart from payloads (the
 * SQLite record store) re-wraps a record without reading its payload. The work is
 * EnvelopeClient.rewrapHeader; this module adapts any EnvelopeOps to it.
 */
import type { CallerContext, KeyPurpose, VersionKeyProvider } from '../envelope/api';
import { EnvelopeClient } from '../envelope/envelope-client';
import { KEY_SLOT_LENGTH } from '../envelope/format';
import type { EnvelopeOps } from './dependencies';

/** A re-wrapped header. */
export interface RewrappedHeader {
  readonly header: Buffer;
  /** The version now wrapping the data key. */
  readonly version: number;
  /** The version that wrapped it before. */
  readonly previousVersion: number;
}

/** Envelope operations plus the header-only re-wrap. */
export interface HeaderEnvelopeOps extends EnvelopeOps {
  rewrapHeader(header: Buffer, opts?: { toVersion?: number; purpose?: KeyPurpose; context?: CallerContext }): Promise<RewrappedHeader>;
}

/** Length of the authenticated part of a header of `headerLength` bytes (everything but the key slot). */
export function authenticatedHeaderLength(headerLength: number): number {
  return headerLength - KEY_SLOT_LENGTH;
}

/**
 * Re-wraps a header (exactly one envelope header, no payload) to the keyring's active version;
 * see EnvelopeClient.rewrapHeader. A revoked version is refused with RevokedVersionError (its
 * records are re-encrypted instead), and a `toVersion` other than the active version with
 * ValidationError.
 *
 * @example
 * const { header } = await rewrapHeader(provider, stored.header);
 */
export function rewrapHeader(
  provider: VersionKeyProvider,
  header: Buffer,
  opts: { toVersion?: number; purpose?: KeyPurpose; context?: CallerContext } = {},
): Promise<RewrappedHeader> {
  return new EnvelopeClient(provider).rewrapHeader(header, opts);
}

/**
 * Adds the header-only re-wrap to an EnvelopeClient (or any EnvelopeOps) over the same provider.
 *
 * @example
 * const envelopes = withHeaderRewrap(new EnvelopeClient(provider), provider);
 * const sweeper = new Sweeper({ records, envelopes, versions: provider });
 */
export function withHeaderRewrap(envelopes: EnvelopeOps, provider: VersionKeyProvider): HeaderEnvelopeOps {
  const client = envelopes instanceof EnvelopeClient ? envelopes : new EnvelopeClient(provider);
  return {
    encrypt: (keyring, plaintext, opts) => envelopes.encrypt(keyring, plaintext, opts),
    decrypt: (envelope, opts) => envelopes.decrypt(envelope, opts),
    rewrap: (envelope, opts) => envelopes.rewrap(envelope, opts),
    inspect: (envelope) => envelopes.inspect(envelope),
    rewrapHeader: (header, opts) => client.rewrapHeader(header, opts),
  };
}

/** True when `envelopes` can re-wrap detached headers. */
export function hasHeaderRewrap(envelopes: EnvelopeOps): envelopes is HeaderEnvelopeOps {
  return typeof (envelopes as Partial<HeaderEnvelopeOps>).rewrapHeader === 'function';
}
