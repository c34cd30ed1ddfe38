import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { DecryptError, ValidationError } from '../../../shared/errors';
import { loadRsaPublicKey, restoreFromRsa, rsaKeyFingerprint, type EscrowRecord } from '../../../shared/escrow';
import { rsaWrapVersionKey } from '../../../shared/escrow/rsa-escrow';

describe('rsa-escrow', () => {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const privatePem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  function recordWith(keyring: string, version: number, rsaWrapped: Buffer): EscrowRecord {
    return {
      schema: 1,
      keyring,
      version,
      wrappedKey: 'AAAA',
      escrowKeyId: 'k',
      rsaWrapped: rsaWrapped.toString('base64'),
      rsaKeyFingerprint: rsaKeyFingerprint(createPublicKey(publicPem)),
      canary: 'AAAA',
      createdAt: '2026-01-01T00:00:00.000Z',
      wrappingKeyId: 'k',
    };
  }

  describe('restoreFromRsa', () => {
    it('opens the offline copy with the matching private key', () => {
      // Prepare
      const key = randomBytes(32);
      const wrapped = rsaWrapVersionKey(loadRsaPublicKey(publicPem), key, 'payments', 2);
      // Act
      const back = restoreFromRsa(recordWith('payments', 2, wrapped), privatePem);
      // Assess
      expect(back.equals(key)).toBe(true);
    });

    it('throws DecryptError when the copy is moved to another version (the OAEP label binds it)', () => {
      // Prepare
      const wrapped = rsaWrapVersionKey(loadRsaPublicKey(publicPem), randomBytes(32), 'payments', 2);
      // Act
      const act = () => restoreFromRsa(recordWith('payments', 3, wrapped), privatePem);
      // Assess
      expect(act).toThrow(DecryptError);
    });

    it('throws ValidationError for a record without an RSA copy', () => {
      // Prepare
      const { rsaWrapped: _drop, ...rest } = recordWith('payments', 2, Buffer.alloc(256));
      // Act
      const act = () => restoreFromRsa(rest as EscrowRecord, privatePem);
      // Assess
      expect(act).toThrow(ValidationError);
    });
  });

  describe('loadRsaPublicKey', () => {
    it('throws ValidationError for a non-RSA key and for text that is not a key', () => {
      // Prepare
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
      // Act
      const notRsa = () => loadRsaPublicKey(ec);
      const notKey = () => loadRsaPublicKey('hello');
      // Assess
      expect(notRsa).toThrow(ValidationError);
      expect(notKey).toThrow(ValidationError);
    });
  });
});
