/**
 * The optional offline escrow copy: the version key encrypted with RSA-OAEP (SHA-256) under an
 * operator's public key, so that backups stay recoverable even if every AWS key is gone. The
 * OAEP label binds the copy to its keyring and version: a copy moved to another record fails.
 */
import { constants, createHash, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import { DecryptError, ValidationError } from '../errors';
import type { EscrowRecord } from './escrow-record';

/** Smallest RSA modulus accepted for the offline copy. */
export const MIN_RSA_BITS = 2048;

/** The OAEP label of a version's offline copy. */
export function rsaEscrowLabel(keyring: string, version: number): Buffer {
  return Buffer.from(`rekey-escrow:${keyring}:${version}`, 'utf8');
}

/** SHA-256 (hex) of a public key's SPKI DER: names the key that can open the offline copy. */
export function rsaKeyFingerprint(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Parses and checks an RSA public key (PEM, SPKI or PKCS#1); ValidationError when unusable. */
export function loadRsaPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new ValidationError('the escrow RSA public key is not a valid PEM public key', { cause: err });
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < MIN_RSA_BITS) {
    throw new ValidationError(`the escrow public key must be RSA of at least ${MIN_RSA_BITS} bits`);
  }
  return key;
}

/** Encrypts a version key for the offline copy (RSA-OAEP, SHA-256, label bound to keyring and version). */
export function rsaWrapVersionKey(publicKey: KeyObject, key: Buffer, keyring: string, version: number): Buffer {
  return publicEncrypt(
    { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: rsaEscrowLabel(keyring, version) },
    key,
  );
}

/**
 * Offline recovery: opens a record's RSA copy with the operator's private key. The caller owns
 * (and zeroes) the returned key.
 *
 * @example
 * const key = restoreFromRsa(record, readFileSync('escrow-private.pem', 'utf8'));
 * @throws ValidationError when the record has no RSA copy or the private key is not the one it was made for.
 * @throws DecryptError when the copy does not open.
 */
export function restoreFromRsa(record: EscrowRecord, privateKeyPem: string): Buffer {
  if (record.rsaWrapped === undefined) throw new ValidationError('this escrow record has no offline RSA copy');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(privateKeyPem);
  } catch (err) {
    throw new ValidationError('not a valid PEM private key', { cause: err });
  }
  if (record.rsaKeyFingerprint !== undefined && rsaKeyFingerprint(createPublicKey(privateKey)) !== record.rsaKeyFingerprint) {
    throw new ValidationError('this private key is not the one the offline copy was made for');
  }
  try {
    return privateDecrypt(
      {
        key: privateKey,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha256',
        oaepLabel: rsaEscrowLabel(record.keyring, record.version),
      },
      Buffer.from(record.rsaWrapped, 'base64'),
    );
  } catch (err) {
    throw new DecryptError({ cause: err });
  }
}
