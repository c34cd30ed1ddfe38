import { parseCatalog } from '../../../shared/catalog/catalog-schema';
import { createCatalog } from '../../../shared/catalog/lifecycle';
import { DEFAULT_POLICY } from '../../../shared/catalog/policy';
import { ValidationError } from '../../../shared/errors';
import { testKey } from './support/fakes';

const T0 = new Date('2030-01-01T00:00:00.000Z');

describe('catalog-schema', () => {
  describe('parseCatalog', () => {
    it('accepts a catalog round-tripped through JSON', () => {
      // Prepare
      const catalog = createCatalog('ring', DEFAULT_POLICY, testKey(1), T0);
      // Act
      const parsed = parseCatalog(JSON.parse(JSON.stringify(catalog)));
      // Assess
      expect(parsed).toEqual(catalog);
    });

    it('reads a catalog written before the quiet period and the destruction opt-in with their defaults', () => {
      // Prepare: a document as an older rekey wrote it
      const doc = JSON.parse(JSON.stringify(createCatalog('ring', DEFAULT_POLICY, testKey(1), T0))) as { policy: Record<string, unknown> };
      delete doc.policy['quietSeconds'];
      delete doc.policy['destroyAfterRetention'];
      // Act
      const parsed = parseCatalog(doc);
      // Assess
      expect(parsed.policy).toMatchObject({ quietSeconds: 7 * 86_400, destroyAfterRetention: false });
      expect(parsed.sources).toBeUndefined();
    });

    it('throws ValidationError on a bad unmanaged source name', () => {
      // Prepare
      const doc = { ...createCatalog('ring', DEFAULT_POLICY, testKey(1), T0), sources: { unmanaged: ['Files!'] } };
      // Act / Assess
      expect(() => parseCatalog(doc)).toThrow(/at 'sources.unmanaged.0'/);
    });

    it('keeps fields it does not know, so an older reader does not drop them', () => {
      // Prepare
      const doc = { ...createCatalog('ring', DEFAULT_POLICY, testKey(1), T0), labels: { team: 'pay' } };
      // Act
      const parsed = parseCatalog(doc) as unknown as Record<string, unknown>;
      // Assess
      expect(parsed['labels']).toEqual({ team: 'pay' });
    });

    it.each<[string, (d: Record<string, unknown>) => unknown, RegExp]>([
      ['not an object', () => 'catalog', /malformed catalog document/],
      ['another schema', (d) => ({ ...d, schema: 2 }), /at 'schema'/],
      ['a missing policy', (d) => ({ ...d, policy: undefined }), /at 'policy'/],
      ['a bad timestamp', (d) => ({ ...d, updatedAt: 'noon' }), /at 'updatedAt'/],
      ['a bad version state', (d) => ({ ...d, versions: [{ ...(d['versions'] as object[])[0], state: 'gone' }] }), /at 'versions.0.state'/],
      ['a fractional version', (d) => ({ ...d, versions: [{ ...(d['versions'] as object[])[0], version: 1.5 }] }), /at 'versions.0.version'/],
    ])('throws ValidationError on %s', (_label, corrupt, expected) => {
      // Prepare
      const doc = JSON.parse(JSON.stringify(createCatalog('ring', DEFAULT_POLICY, testKey(1), T0))) as Record<string, unknown>;
      // Act / Assess
      expect(() => parseCatalog(corrupt(doc))).toThrow(ValidationError);
      expect(() => parseCatalog(corrupt(doc))).toThrow(expected);
    });

    it('does not echo the wrapped key when a version is malformed', () => {
      // Prepare
      const doc = JSON.parse(JSON.stringify(createCatalog('ring', DEFAULT_POLICY, { wrappedKey: 'U0VDUkVUS0VZ', wrappingKeyId: 'k' }, T0))) as { versions: Array<Record<string, unknown>> };
      doc.versions[0]!['createdAt'] = 5;
      // Act
      const error = (() => {
        try {
          parseCatalog(doc);
          return undefined;
        } catch (err) {
          return err as Error;
        }
      })();
      // Assess
      expect(error).toBeInstanceOf(ValidationError);
      expect(error?.message).not.toContain('U0VDUkVUS0VZ');
    });
  });
});
