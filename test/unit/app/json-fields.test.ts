import fc from 'fast-check';
import { openField, parseFieldPaths, sealField, transformFields } from '../../../shared/app/json-fields';
import { BackendError, DecryptError, RevokedVersionError, ValidationError } from '../../../shared/errors';
import { testClient } from './support';

describe('json-fields', () => {
  describe('parseFieldPaths', () => {
    it('splits dotted paths into segments', () => {
      // Act
      const paths = parseFieldPaths(['email', 'address.street'], 'fields.encrypt');
      // Assess
      expect(paths).toEqual([['email'], ['address', 'street']]);
    });

    it('reads an absent list as no fields', () => {
      // Assess
      expect(parseFieldPaths(undefined, 'fields.decrypt')).toEqual([]);
    });

    it.each([
      ['not an array', 'email'],
      ['an empty name', ['']],
      ['an empty segment', ['address..street']],
      ['a prototype key', ['__proto__.polluted']],
      ['a constructor key', ['a.constructor']],
      ['a duplicate', ['ssn', 'ssn']],
      ['a non-string', [42]],
    ])('throws ValidationError naming the option for %s', (_what, paths) => {
      // Act / Assess
      expect(() => parseFieldPaths(paths, 'fields.encrypt')).toThrow(ValidationError);
      expect(() => parseFieldPaths(paths, 'fields.encrypt')).toThrow(/fields\.encrypt/);
    });
  });

  describe('transformFields', () => {
    it('replaces the present fields, leaves absent ones out, and does not change the input', async () => {
      // Prepare
      const doc = { id: 'c-1', ssn: '123', address: { street: 'Main 1', city: 'Oslo' } };
      const before = structuredClone(doc);
      // Act
      const out = await transformFields(doc, [['ssn'], ['address', 'street'], ['missing'], ['address', 'zip']], async (v) => `<${String(v)}>`);
      // Assess
      expect(out).toEqual({ id: 'c-1', ssn: '<123>', address: { street: '<Main 1>', city: 'Oslo' } });
      expect(doc).toEqual(before);
    });

    it('gives a document that is not a JSON object back as it is', async () => {
      // Act / Assess
      await expect(transformFields([1, 2], [['0']], async () => 'x')).resolves.toEqual([1, 2]);
      await expect(transformFields('text', [['a']], async () => 'x')).resolves.toBe('text');
    });

    it('does not follow a path through an array or an inherited property', async () => {
      // Prepare
      const doc = { list: [{ ssn: '1' }], inherited: Object.create({ ssn: '2' }) as Record<string, unknown> };
      // Act
      const out = await transformFields(doc, [['list', 'ssn'], ['inherited', 'ssn'], ['toString']], async () => 'x');
      // Assess
      expect(out).toBe(doc);
    });
  });

  describe('sealField and openField', () => {
    it('round-trip any JSON value through a real envelope, keeping its type', async () => {
      // Prepare
      const { client } = testClient();
      const encrypt = (pt: Buffer): Promise<Buffer> => client.encrypt('pii', pt, { context: { customer: 'c-1' } });
      const decrypt = async (env: Buffer): Promise<Buffer> => (await client.decrypt(env, { context: { customer: 'c-1' } })).plaintext;
      await fc.assert(
        fc.asyncProperty(fc.jsonValue(), async (value) => {
          // Act
          const sealed = await sealField(value, encrypt);
          const opened = await openField(sealed, decrypt);
          // Assess: JSON equality (-0 becomes 0 in JSON text, as it would over HTTP)
          expect(typeof sealed).toBe('string');
          expect(opened).toEqual(JSON.parse(JSON.stringify(value)));
        }),
        { numRuns: 50 },
      );
    });

    it('refuses a value that has no JSON form', async () => {
      // Act / Assess
      await expect(sealField(undefined, async () => Buffer.alloc(0))).rejects.toThrow(ValidationError);
    });

    it('throws the one DecryptError for every unusable value, whatever the reason', async () => {
      // Prepare
      const { client, provider } = testClient();
      const sealed = await sealField({ ssn: '123' }, (pt) => client.encrypt('pii', pt, { context: { customer: 'c-1' } }));
      const flipped = Buffer.from(sealed, 'base64');
      flipped.writeUInt8(flipped.readUInt8(flipped.length - 1) ^ 1, flipped.length - 1);
      const notJson = (await client.encrypt('pii', Buffer.from('not json'))).toString('base64');
      const decryptWith = (context?: Record<string, string>) => async (env: Buffer): Promise<Buffer> =>
        (await client.decrypt(env, context === undefined ? {} : { context })).plaintext;
      const cases: Array<[string, unknown, (env: Buffer) => Promise<Buffer>]> = [
        ['a number', 42, decryptWith()],
        ['an empty string', '', decryptWith()],
        ['not base64', 'a$b%', decryptWith()],
        ['a tampered envelope', flipped.toString('base64'), decryptWith({ customer: 'c-1' })],
        ['the wrong context', sealed, decryptWith({ customer: 'c-2' })],
        ['no context', sealed, decryptWith()],
        ['plaintext that is not JSON', notJson, decryptWith()],
      ];
      provider.revoked.add('pii#1');
      cases.push(['a revoked version', sealed, decryptWith({ customer: 'c-1' })]);
      for (const [what, value, decrypt] of cases) {
        // Act
        const err = await openField(value, decrypt).catch((e: unknown) => e);
        // Assess
        expect({ what, error: err instanceof DecryptError, message: (err as Error).message }).toEqual({ what, error: true, message: DecryptError.MESSAGE });
      }
    });

    it('keeps a revoked version only as the cause, and never the plaintext of a non-JSON field', async () => {
      // Prepare
      const { client, provider } = testClient();
      const sealed = await sealField('x', (pt) => client.encrypt('pii', pt));
      const notJson = (await client.encrypt('pii', Buffer.from('secret-4111'))).toString('base64');
      const decrypt = async (env: Buffer): Promise<Buffer> => (await client.decrypt(env)).plaintext;
      const parseFailure = (await openField(notJson, decrypt).catch((e: unknown) => e)) as DecryptError;
      provider.revoked.add('pii#1');
      // Act
      const revoked = (await openField(sealed, decrypt).catch((e: unknown) => e)) as DecryptError;
      // Assess
      expect(revoked.cause).toBeInstanceOf(RevokedVersionError);
      expect(parseFailure.cause).toBeUndefined();
      expect(JSON.stringify(parseFailure, Object.getOwnPropertyNames(parseFailure))).not.toContain('4111');
    });

    it('lets a retryable backend failure through, so the caller can retry', async () => {
      // Prepare
      const { client } = testClient();
      const sealed = await sealField('x', (pt) => client.encrypt('pii', pt));
      // Act / Assess
      await expect(openField(sealed, async () => Promise.reject(new BackendError('kms: timeout')))).rejects.toThrow(BackendError);
    });
  });
});
