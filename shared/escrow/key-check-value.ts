/**
 * Key check values (KCV): proof that an escrowed copy holds one specific version key, recorded
 * when the copy is archived, so that a restore drill can check the copy without ever asking the
 * key vault for the version key (a drill is then not a "use" of the key, and the everyday escrow
 * role never needs to unwrap a version through the keyring's key).
 *
 * KCV = HMAC-SHA256(versionKey, "rekey/kcv/v1" || 0x00 || keyring || 0x00 || u32be(version)).
 * HMAC is a PRF keyed by the version key: the value reveals nothing about the key, and binding
 * keyring and version means the KCV of one version never vouches for another. Keyring names
 * have no NUL, so the encoding is unambiguous.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Domain label of KCVs (version 1 of this construction). */
export const KCV_LABEL = 'rekey/kcv/v1';

/** Length of a KCV in hex characters (the full 32-byte HMAC). */
export const KCV_HEX_LENGTH = 64;

/**
 * The key check value of `key` as version `version` of `keyring` (lower-case hex).
 *
 * @example
 * const kcv = keyCheckValue(versionKey, 'payments', 3); // 64 hex characters
 */
export function keyCheckValue(key: Buffer, keyring: string, version: number): string {
  const v = Buffer.alloc(4);
  v.writeUInt32BE(version);
  return createHmac('sha256', key)
    .update(Buffer.from(KCV_LABEL, 'utf8'))
    .update(Buffer.from([0]))
    .update(Buffer.from(keyring, 'utf8'))
    .update(Buffer.from([0]))
    .update(v)
    .digest('hex');
}

/** Whether `key` has the recorded check value `expected` for (keyring, version); constant time. */
export function kcvMatches(expected: string, key: Buffer, keyring: string, version: number): boolean {
  const actual = Buffer.from(keyCheckValue(key, keyring, version), 'hex');
  const wanted = Buffer.from(expected, 'hex');
  return wanted.length === actual.length && timingSafeEqual(wanted, actual);
}
