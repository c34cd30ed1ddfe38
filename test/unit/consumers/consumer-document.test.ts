import { assertConsumerPrincipal, decodeConsumerDocument, isInsideBound, isRoleArn, MAX_CONSUMERS_PER_KEYRING, parseConsumerDocument, roleAccount } from '../../../shared/consumers/consumer-document';
import { BackendError, ValidationError } from '../../../shared/errors';

const ROLE = 'arn:aws:iam::111122223333:role/orders';
const entry = (principalArn: string) => ({ principalArn, access: 'decrypt' as const, addedAt: '2030-01-01T00:00:00.000Z', addedBy: 'cli:alice' });

describe('consumer registry document', () => {
  describe('isRoleArn', () => {
    it.each([
      ROLE,
      'arn:aws:iam::111122223333:role/service-role/app/orders-api',
      'arn:aws-us-gov:iam::111122223333:role/orders',
      'arn:aws-cn:iam::111122223333:role/a+b=c,d.e@f_g-h',
    ])('accepts %s', (arn) => {
      // Act / Assess
      expect(isRoleArn(arn)).toBe(true);
    });

    it.each([
      ['a user', 'arn:aws:iam::111122223333:user/alice'],
      ['an assumed-role session', 'arn:aws:sts::111122223333:assumed-role/orders/s1'],
      ['a wildcard name', 'arn:aws:iam::111122223333:role/*'],
      ['a wildcard path', 'arn:aws:iam::111122223333:role/app/*/x'],
      ['a short account', 'arn:aws:iam::11112222333:role/orders'],
      ['a region', 'arn:aws:iam:us-east-1:111122223333:role/orders'],
      ['the root', 'arn:aws:iam::111122223333:root'],
      ['a name over 64 characters', `arn:aws:iam::111122223333:role/${'x'.repeat(65)}`],
      ['no name', 'arn:aws:iam::111122223333:role/'],
      ['not a string', 42],
    ])('refuses %s', (_what, arn) => {
      // Act / Assess
      expect(isRoleArn(arn)).toBe(false);
    });
  });

  describe('bound', () => {
    it('reads the account and checks it against the bound', () => {
      // Act / Assess
      expect(roleAccount('arn:aws:iam::444455556666:role/x/y')).toBe('444455556666');
      expect(isInsideBound(ROLE, ['111122223333'])).toBe(true);
      expect(isInsideBound(ROLE, ['444455556666'])).toBe(false);
      expect(isInsideBound('arn:aws:iam::111122223333:user/u', ['111122223333'])).toBe(false);
    });

    it('throws ValidationError naming the account outside the bound, and for a non-role', () => {
      // Act / Assess
      expect(() => assertConsumerPrincipal(ROLE, ['444455556666'])).toThrow(/account 111122223333, outside the consumer accounts .*444455556666/);
      expect(() => assertConsumerPrincipal('arn:aws:iam::111122223333:user/alice', undefined)).toThrow(ValidationError);
      expect(() => assertConsumerPrincipal(ROLE, undefined)).not.toThrow();
    });
  });

  describe('parseConsumerDocument', () => {
    it('accepts a valid document', () => {
      // Prepare
      const doc = { schema: 1, keyring: 'pii', consumers: [entry(ROLE), { ...entry('arn:aws:iam::111122223333:role/b'), access: 'encrypt-decrypt' }] };
      // Act / Assess
      expect(parseConsumerDocument(doc)).toEqual(doc);
    });

    it.each<[string, unknown]>([
      ['an unknown access', { schema: 1, keyring: 'pii', consumers: [{ ...entry(ROLE), access: 'admin' }] }],
      ['a repeated principal', { schema: 1, keyring: 'pii', consumers: [entry(ROLE), entry(ROLE)] }],
      ['an extra field', { schema: 1, keyring: 'pii', consumers: [], extra: true }],
      ['another schema', { schema: 2, keyring: 'pii', consumers: [] }],
      ['a bad keyring name', { schema: 1, keyring: 'PII!', consumers: [] }],
      ['a wildcard principal', { schema: 1, keyring: 'pii', consumers: [entry('arn:aws:iam::111122223333:role/*')] }],
      ['a non-ISO time', { schema: 1, keyring: 'pii', consumers: [{ ...entry(ROLE), addedAt: 'yesterday' }] }],
    ])('throws ValidationError for %s', (_what, doc) => {
      // Act / Assess
      expect(() => parseConsumerDocument(doc)).toThrow(ValidationError);
    });

    it(`holds at most ${MAX_CONSUMERS_PER_KEYRING} consumers`, () => {
      // Prepare
      const many = (n: number) => Array.from({ length: n }, (_, i) => entry(`arn:aws:iam::111122223333:role/r${i}`));
      // Act / Assess
      expect(parseConsumerDocument({ schema: 1, keyring: 'pii', consumers: many(MAX_CONSUMERS_PER_KEYRING) }).consumers).toHaveLength(MAX_CONSUMERS_PER_KEYRING);
      expect(() => parseConsumerDocument({ schema: 1, keyring: 'pii', consumers: many(MAX_CONSUMERS_PER_KEYRING + 1) })).toThrow(/at most 1000 consumers/);
    });
  });

  describe('decodeConsumerDocument', () => {
    it('throws a non-retryable BackendError for stored text that is not JSON, invalid, or of another keyring', () => {
      // Act / Assess
      for (const text of ['{', '{"schema":1}', JSON.stringify({ schema: 1, keyring: 'ops', consumers: [] })]) {
        let caught: unknown;
        try {
          decodeConsumerDocument('pii', text);
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(BackendError);
        expect((caught as BackendError).retryable).toBe(false);
      }
    });
  });
});
