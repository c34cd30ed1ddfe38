import { BackendError, ValidationError } from '../../../shared/errors';
import { canaryText, parseEscrowRecord, serializeEscrowRecord, MAX_ESCROW_RECORD_BYTES, type EscrowRecord } from '../../../shared/escrow';

const record: EscrowRecord = {
  schema: 1,
  keyring: 'payments',
  version: 3,
  wrappedKey: Buffer.alloc(100, 1).toString('base64'),
  escrowKeyId: 'arn:aws:kms:us-east-1:123456789012:key/escrow',
  rsaWrapped: Buffer.alloc(256, 2).toString('base64'),
  rsaKeyFingerprint: 'a'.repeat(64),
  canary: Buffer.alloc(90, 3).toString('base64'),
  createdAt: '2026-02-03T04:05:06.000Z',
  wrappingKeyId: 'arn:aws:kms:us-east-1:123456789012:key/main',
};

describe('escrow-record', () => {
  describe('serializeEscrowRecord / parseEscrowRecord', () => {
    it('round-trips a valid record', () => {
      // Act
      const back = parseEscrowRecord(serializeEscrowRecord(record), 'payments', 3);
      // Assess
      expect(back).toEqual(record);
    });

    it('throws ValidationError when serializing a record with a bad field', () => {
      // Prepare
      const bad = { ...record, version: 0 };
      // Act
      const act = () => serializeEscrowRecord(bad);
      // Assess
      expect(act).toThrow(ValidationError);
    });
  });

  describe('parseEscrowRecord', () => {
    it.each([
      ['truncated JSON', () => serializeEscrowRecord(record).subarray(0, 50)],
      ['an unknown field', () => Buffer.from(JSON.stringify({ ...record, plaintextKey: 'AAAA' }))],
      ['a missing canary', () => Buffer.from(JSON.stringify({ ...record, canary: undefined }))],
      ['another version', () => Buffer.from(JSON.stringify({ ...record, version: 4 }))],
      ['another keyring', () => Buffer.from(JSON.stringify({ ...record, keyring: 'billing' }))],
      ['an oversized document', () => Buffer.alloc(MAX_ESCROW_RECORD_BYTES + 1, 0x20)],
    ])('throws a non-retryable BackendError for %s', (_what, bytes) => {
      // Act
      const act = () => parseEscrowRecord(bytes(), 'payments', 3);
      // Assess
      expect(act).toThrow(BackendError);
      try {
        act();
      } catch (err) {
        expect((err as BackendError).retryable).toBe(false);
      }
    });
  });

  describe('canaryText', () => {
    it('names the keyring and version so that canaries of different versions differ', () => {
      // Act
      const a = canaryText('payments', 3);
      const b = canaryText('payments', 4);
      // Assess
      expect(a).toContain('payments');
      expect(a).not.toBe(b);
    });
  });
});
