import { DecryptError, RevokedVersionError } from '../../../shared/errors';
import { recordContext, rewrapHeader, withHeaderRewrap } from '../../../shared/reencrypt';
import { LocalStack } from './support/local-stack';

describe('rewrapHeader', () => {
  let stack: LocalStack;
  let envelope: Buffer;
  let headerLength: number;
  const context = recordContext('r1', { tenant: 't' });

  beforeEach(async () => {
    stack = new LocalStack();
    await stack.createKeyring('pii');
    envelope = await stack.envelopes.encrypt('pii', Buffer.from('the payload'), { context });
    headerLength = stack.envelopes.inspect(envelope).headerLength;
  });

  afterEach(() => stack.close());

  describe('rewrapHeader', () => {
    it('returns a header under the active version that opens the untouched payload', async () => {
      // Prepare
      const active = await stack.rotateAndPromote('pii');
      // Act
      const next = await rewrapHeader(stack.provider, envelope.subarray(0, headerLength));
      // Assess
      expect(next).toMatchObject({ version: active, previousVersion: 1 });
      const rebuilt = Buffer.concat([next.header, envelope.subarray(headerLength)]);
      expect(stack.envelopes.inspect(rebuilt).version).toBe(active);
      expect((await stack.envelopes.decrypt(rebuilt, { context })).plaintext.toString()).toBe('the payload');
    });

    it('produces the same header as EnvelopeClient.rewrapParts would, byte for byte outside the key slot', async () => {
      // Prepare
      const active = await stack.rotateAndPromote('pii');
      // Act
      const next = await rewrapHeader(stack.provider, envelope.subarray(0, headerLength), { toVersion: active });
      const parts = await stack.envelopes.rewrapParts(envelope, { toVersion: active });
      // Assess
      expect(next.header.length).toBe(parts.header.length);
      expect(next.header.subarray(0, headerLength - 40)).toEqual(parts.header.subarray(0, headerLength - 40));
    });

    it.each([
      ['a truncated header', (h: Buffer) => h.subarray(0, h.length - 1)],
      ['a header followed by payload bytes', (h: Buffer, e: Buffer) => e.subarray(0, h.length + 1)],
      ['a flipped bit in the wrapped data key', (h: Buffer) => { const c = Buffer.from(h); c[c.length - 3] = (c[c.length - 3] as number) ^ 4; return c; }],
      ['a flipped bit in the commitment', (h: Buffer) => { const c = Buffer.from(h); c[c.length - 50] = (c[c.length - 50] as number) ^ 4; return c; }],
    ])('throws DecryptError for %s', async (_what, tamper) => {
      // Prepare
      await stack.rotateAndPromote('pii');
      const bad = tamper(envelope.subarray(0, headerLength), envelope);
      // Act / Assess
      // The commitment covers the bound context, so a re-wrap checks it when given the context
      // (docs/envelope-format.md, re-wrap rules).
      await expect(rewrapHeader(stack.provider, bad, { context })).rejects.toBeInstanceOf(DecryptError);
    });

    it('refuses a revoked version to ordinary callers and to re-encryption alike (re-encrypt, never re-wrap)', async () => {
      // Prepare
      await stack.keyrings.revoke('pii', 1, { reason: 'test', actor: 'test' });
      stack.provider.invalidate('pii');
      const header = envelope.subarray(0, headerLength);
      const ops = withHeaderRewrap(stack.envelopes, stack.provider);
      // Act / Assess
      await expect(ops.rewrapHeader(header)).rejects.toBeInstanceOf(RevokedVersionError);
      await expect(ops.rewrapHeader(header, { purpose: 'reencrypt' })).rejects.toBeInstanceOf(RevokedVersionError);
    });
  });
});
