import { randomBytes } from 'node:crypto';
import { EnvelopeClient } from '../../../shared/envelope';
import { DecryptError, UnknownKeyringError, UnknownVersionError } from '../../../shared/errors';
import { SingleKeyProvider } from '../../../shared/escrow';

describe('SingleKeyProvider', () => {
  describe('forEncrypt / forDecrypt', () => {
    it('serves its key only for its own keyring and version', async () => {
      // Prepare
      const key = randomBytes(32);
      const provider = new SingleKeyProvider('payments', 4, key);
      // Act
      const enc = await provider.forEncrypt('payments');
      const dec = await provider.forDecrypt('payments', 4, 'read');
      // Assess
      expect(enc).toEqual({ version: 4, key });
      expect(dec).toBe(key);
      await expect(provider.forEncrypt('billing')).rejects.toBeInstanceOf(UnknownKeyringError);
      await expect(provider.forDecrypt('payments', 3, 'read')).rejects.toBeInstanceOf(UnknownVersionError);
    });

    it('lets an EnvelopeClient round-trip with its key, and another key of the same version fails', async () => {
      // Prepare
      const sealed = await new EnvelopeClient(new SingleKeyProvider('payments', 4, randomBytes(32))).encrypt('payments', Buffer.from('canary'));
      // Act
      const attempt = new EnvelopeClient(new SingleKeyProvider('payments', 4, randomBytes(32))).decrypt(sealed);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(DecryptError);
    });
  });
});
