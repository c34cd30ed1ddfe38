import { randomBytes } from 'node:crypto';
import { REDACTED, redactingReplacer, redactValue } from '../../../shared/vocabulary/redact';
import { sanitizeAuditEvent } from '../../../shared/adapters/audit/sanitize-audit-event';

describe('redactingReplacer', () => {
  describe('secret-named properties', () => {
    it.each(['plaintext', 'dataKey', 'wrappedKey', 'password', 'sessionToken', 'privateKey', 'envelope', 'Authorization'])('redacts %s', (name) => {
      // Prepare
      const value = { keyring: 'k', [name]: 'value-that-must-not-appear' };
      // Act
      const text = JSON.stringify(value, redactingReplacer);
      // Assess
      expect(text).not.toContain('value-that-must-not-appear');
      expect(text).toContain(REDACTED);
      expect(text).toContain('"keyring":"k"');
    });
  });

  describe('values', () => {
    it('redacts buffers, typed arrays and long base64 blobs under innocent names', () => {
      // Prepare
      const key = randomBytes(32);
      const value = { a: key, b: new Uint8Array(key), c: key.toString('base64'), d: key.toString('hex'), e: 'records/2024/01/x' };
      // Act
      const out = redactValue(value);
      // Assess
      expect(out).toEqual({ a: REDACTED, b: REDACTED, c: REDACTED, d: REDACTED, e: 'records/2024/01/x' });
    });
  });
});

describe('sanitizeAuditEvent', () => {
  describe('details', () => {
    it('drops secret details, bounds text and keeps identifiers', () => {
      // Prepare
      const event = {
        at: '2026-01-01T00:00:00.000Z',
        actor: 'cli:alice',
        action: 'version.created',
        keyring: 'payments',
        version: 3,
        reason: 'rotate now '.repeat(200),
        details: { state: 'pending', token: 'abc', wrapped: randomBytes(48).toString('base64'), count: 2 },
      };
      // Act
      const out = sanitizeAuditEvent(event);
      // Assess
      expect(out.details).toEqual({ state: 'pending', count: 2 });
      expect(out.reason).toHaveLength(512);
      expect(out).toMatchObject({ actor: 'cli:alice', action: 'version.created', keyring: 'payments', version: 3 });
    });
  });
});
