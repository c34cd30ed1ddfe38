import { ValidationError } from '../../../shared/errors';
import { parseKeyAccessEvent } from '../../../shared/usecases/key-access';

describe('key-access use case', () => {
  describe('parseKeyAccessEvent', () => {
    it('reads a compromise event as an immediate revocation of that version', () => {
      // Prepare
      const event = { source: 'rekey', 'detail-type': 'Key Version Compromised', detail: { keyring: 'pii', version: 3, reason: 'leak' } };
      // Act
      const request = parseKeyAccessEvent(event, ['pii', 'ops'], 'catalog/');
      // Assess
      expect(request).toEqual({ keyrings: ['pii'], revokedNow: { keyring: 'pii', version: 3 } });
    });

    it('maps a catalog write to its keyring and a bare schedule to every keyring', () => {
      // Prepare
      const written = { source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: { name: 'b' }, object: { key: 'catalog/ops.json' } } };
      // Act / Assess
      expect(parseKeyAccessEvent(written, ['pii', 'ops'], 'catalog/')).toEqual({ keyrings: ['ops'] });
      expect(parseKeyAccessEvent({}, ['pii', 'ops'], 'catalog/')).toEqual({ keyrings: ['pii', 'ops'] });
    });

    it.each<[string, unknown]>([
      ['an unknown keyring', { keyring: 'payments' }],
      ['a non-catalog object', { source: 'aws.s3', detail: { object: { key: 'sweeps/x.json' } } }],
      ['a compromise without version', { source: 'rekey', 'detail-type': 'Key Version Compromised', detail: { keyring: 'pii' } }],
      ['garbage', 'revoke everything'],
    ])('throws ValidationError for %s', (_name, event) => {
      // Prepare / Act / Assess
      expect(() => parseKeyAccessEvent(event, ['pii'], 'catalog/')).toThrow(ValidationError);
    });
  });
});
