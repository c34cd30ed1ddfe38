/**
 * Header-only re-wrap of a detached envelope header: what EnvelopeClient.rewrapParts does, but
 * from the header bytes alone, so that a store keeping headers apart from payloads (the SQLite
 * record store) can re-wrap a record without reading its payload at all.
 *
 * It runs the envelope layer's own steps (header parse, key-slot unwrap, key commitment check,
 * key-slot write), so the format stays defined in one place. It belongs in EnvelopeClient as a
 * public `rewrapHeader`; until then it lives here.
 */
import { DecryptError } from '../errors';
import type { KeyPurpose, VersionKeyProvider } from '../envelope/api';
import { wrapDataKey } from '../envelope/envelope-crypto';
import { checkVersion, deriveAndCommit, unwrapKeySlot } from '../envelope/envelope-steps';
import { KEY_SLOT_LENGTH, parseHeader, writeKeySlot } from '../envelope/format';
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
  rewrapHeader(header: Buffer, opts?: { toVersion?: number; purpose?: KeyPurpose }): Promise<RewrappedHeader>;
}

/** Length of the authenticated part of a header of `headerLength` bytes (everything but the key slot). */
export function authenticatedHeaderLength(headerLength: number): number {
  return headerLength - KEY_SLOT_LENGTH;
}

/**
 * Re-wraps a header (exactly one envelope header, no payload) to `toVersion` (default: the
 * active version). The authenticated part is kept byte for byte; the data key is unwrapped with
 * the old version key, its commitment checked, and wrapped under the new one. Every parse or
 * authentication failure is the one DecryptError.
 *
 * @example
 * const { header } = await rewrapHeader(provider, stored.header, { toVersion: 4 });
 */
export async function rewrapHeader(provider: VersionKeyProvider, header: Buffer, opts: { toVersion?: number; purpose?: KeyPurpose } = {}): Promise<RewrappedHeader> {
  if (opts.toVersion !== undefined) checkVersion(opts.toVersion, 'toVersion');
  const parsed = parseHeader(header);
  if (parsed.headerLength !== header.length) throw new DecryptError();
  const oldKey = await provider.forDecrypt(parsed.keyring, parsed.version, opts.purpose ?? 'read');
  const dataKey = unwrapKeySlot(oldKey, parsed);
  let wrapped: Buffer;
  let version: number;
  try {
    deriveAndCommit(Buffer.from(dataKey), parsed).fill(0);
    if (opts.toVersion === undefined) {
      const target = await provider.forEncrypt(parsed.keyring);
      version = target.version;
      wrapped = wrapDataKey(target.key, dataKey);
    } else {
      const key = await provider.forDecrypt(parsed.keyring, opts.toVersion, 'read');
      version = opts.toVersion;
      wrapped = wrapDataKey(key, dataKey);
    }
  } finally {
    dataKey.fill(0);
  }
  const out = Buffer.allocUnsafe(parsed.headerLength);
  header.copy(out, 0, 0, parsed.ahLength);
  writeKeySlot(out, parsed.ahLength, version, wrapped);
  return { header: out, version, previousVersion: parsed.version };
}

/**
 * Adds the header-only re-wrap to an EnvelopeClient (or any EnvelopeOps) over the same provider.
 *
 * @example
 * const envelopes = withHeaderRewrap(new EnvelopeClient(provider), provider);
 * const sweeper = new Sweeper({ records, envelopes, versions: provider });
 */
export function withHeaderRewrap(envelopes: EnvelopeOps, provider: VersionKeyProvider): HeaderEnvelopeOps {
  return {
    encrypt: (keyring, plaintext, opts) => envelopes.encrypt(keyring, plaintext, opts),
    decrypt: (envelope, opts) => envelopes.decrypt(envelope, opts),
    rewrap: (envelope, opts) => envelopes.rewrap(envelope, opts),
    inspect: (envelope) => envelopes.inspect(envelope),
    rewrapHeader: (header, opts) => rewrapHeader(provider, header, opts),
  };
}

/** True when `envelopes` can re-wrap detached headers. */
export function hasHeaderRewrap(envelopes: EnvelopeOps): envelopes is HeaderEnvelopeOps {
  return typeof (envelopes as Partial<HeaderEnvelopeOps>).rewrapHeader === 'function';
}
