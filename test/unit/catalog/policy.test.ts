import { DEFAULT_POLICY, parsePolicy, resolvePolicy, validateKeyringName, validatePolicy } from '../../../shared/catalog/policy';
import { ValidationError } from '../../../shared/errors';

describe('policy', () => {
  describe('DEFAULT_POLICY', () => {
    it('is 90d / 7d / 10m / 30d and frozen', () => {
      // Assess
      expect(parsePolicy({ rotateEvery: '90d', grace: '7d', propagation: '10m', retention: '30d' })).toEqual(DEFAULT_POLICY);
      expect(Object.isFrozen(DEFAULT_POLICY)).toBe(true);
    });
  });

  describe('validateKeyringName', () => {
    it.each(['a', 'payments', 'tenant-1.orders_v2', '0abc', 'a'.repeat(64)])('accepts %p', (name) => {
      // Act / Assess
      expect(() => validateKeyringName(name)).not.toThrow();
    });

    it.each(['', 'A', 'Payments', '-lead', '.hidden', '_x', 'a/b', 'a b', 'é', 'a'.repeat(65), 'x\n'])('throws ValidationError on %p', (name) => {
      // Act / Assess
      expect(() => validateKeyringName(name)).toThrow(ValidationError);
    });

    it('throws ValidationError on a non-string', () => {
      // Act / Assess
      expect(() => validateKeyringName(42)).toThrow(ValidationError);
    });
  });

  describe('validatePolicy', () => {
    it.each([
      ['negative grace', { graceSeconds: -1 }],
      ['negative propagation', { propagationSeconds: -1 }],
      ['negative retention', { retentionSeconds: -5 }],
      ['zero rotation', { rotateEverySeconds: 0, propagationSeconds: 0 }],
      ['rotation not longer than propagation', { rotateEverySeconds: 600, propagationSeconds: 600 }],
      ['fractional seconds', { graceSeconds: 1.5 }],
      ['NaN', { retentionSeconds: Number.NaN }],
      ['a string', { graceSeconds: '7d' as unknown as number }],
      ['more than a century', { retentionSeconds: 200 * 365 * 86_400 }],
    ])('throws ValidationError on %s', (_label, patch) => {
      // Prepare
      const policy = { ...DEFAULT_POLICY, ...patch };
      // Act / Assess
      expect(() => validatePolicy(policy)).toThrow(ValidationError);
    });

    it('accepts zero grace, propagation, retention and quiet period', () => {
      // Act / Assess
      expect(() => validatePolicy({ rotateEverySeconds: 1, graceSeconds: 0, propagationSeconds: 0, retentionSeconds: 0, quietSeconds: 0, destroyAfterRetention: false })).not.toThrow();
    });

    it.each<[string, Record<string, unknown>]>([
      ['a negative quiet period', { quietSeconds: -1 }],
      ['a fractional quiet period', { quietSeconds: 1.5 }],
      ['a missing destruction flag', { destroyAfterRetention: undefined }],
      ['a destruction flag that is not a boolean', { destroyAfterRetention: 'yes' }],
    ])('throws ValidationError on %s', (_label, patch) => {
      // Act / Assess
      expect(() => validatePolicy({ ...DEFAULT_POLICY, ...patch } as never)).toThrow(ValidationError);
    });

    it('defaults to a 7-day quiet period and no destruction', () => {
      // Assess
      expect(DEFAULT_POLICY.quietSeconds).toBe(7 * 86_400);
      expect(DEFAULT_POLICY.destroyAfterRetention).toBe(false);
    });
  });

  describe('resolvePolicy', () => {
    it('fills missing fields from the defaults', () => {
      // Act
      const policy = resolvePolicy({ graceSeconds: 60 });
      // Assess
      expect(policy).toEqual({ ...DEFAULT_POLICY, graceSeconds: 60 });
    });

    it('throws ValidationError on an unknown field', () => {
      // Act / Assess
      expect(() => resolvePolicy({ rotateEvery: 5 } as never)).toThrow(/unknown field 'rotateEvery'/);
    });
  });

  describe('parsePolicy', () => {
    it('parses duration strings', () => {
      // Act
      const policy = parsePolicy({ rotateEvery: '30d', grace: '36h' });
      // Assess
      expect(policy.rotateEverySeconds).toBe(30 * 86_400);
      expect(policy.graceSeconds).toBe(36 * 3_600);
      expect(policy.propagationSeconds).toBe(DEFAULT_POLICY.propagationSeconds);
    });

    it('throws ValidationError on a bad duration or a bad combination', () => {
      // Act / Assess
      expect(() => parsePolicy({ grace: '7 days' })).toThrow(ValidationError);
      expect(() => parsePolicy({ rotateEvery: '5m', propagation: '10m' })).toThrow(ValidationError);
    });
  });
});
