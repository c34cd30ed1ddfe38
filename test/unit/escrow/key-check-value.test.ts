import { createHmac, randomBytes } from 'node:crypto';
import { KCV_HEX_LENGTH, kcvMatches, keyCheckValue } from '../../../shared/escrow/key-check-value';

describe('key check value (shared/escrow/key-check-value.ts)', () => {
  const key = Buffer.alloc(32, 7);

  it('is HMAC-SHA256 over the label, keyring and big-endian version (known answer)', () => {
    // Prepare: the construction written out independently
    const message = Buffer.concat([Buffer.from('rekey/kcv/v1'), Buffer.from([0]), Buffer.from('pii'), Buffer.from([0]), Buffer.from([0, 0, 1, 2])]);
    const expected = createHmac('sha256', key).update(message).digest('hex');

    // Act
    const kcv = keyCheckValue(key, 'pii', 258);

    // Assess
    expect(kcv).toBe(expected);
    expect(kcv).toHaveLength(KCV_HEX_LENGTH);
    expect(kcv).not.toContain(key.toString('hex'));
  });

  it('binds keyring and version: another keyring, version or key gives another value', () => {
    // Prepare
    const kcv = keyCheckValue(key, 'pii', 1);

    // Act / Assess
    expect(keyCheckValue(key, 'pii', 2)).not.toBe(kcv);
    expect(keyCheckValue(key, 'pii2', 1)).not.toBe(kcv);
    expect(keyCheckValue(randomBytes(32), 'pii', 1)).not.toBe(kcv);
  });

  describe('kcvMatches', () => {
    it('accepts the right key and refuses another key, version or a malformed value', () => {
      // Prepare
      const kcv = keyCheckValue(key, 'pii', 1);

      // Act / Assess
      expect(kcvMatches(kcv, key, 'pii', 1)).toBe(true);
      expect(kcvMatches(kcv, Buffer.alloc(32, 8), 'pii', 1)).toBe(false);
      expect(kcvMatches(kcv, key, 'pii', 2)).toBe(false);
      expect(kcvMatches(kcv.slice(0, 10), key, 'pii', 1)).toBe(false);
    });
  });
});
