import { EnvelopeClient, inspectEnvelope } from '../../../shared/envelope';
import { RevokedVersionError, ValidationError } from '../../../shared/errors';
import { TestProvider } from './test-provider';

const KEYRING = 'payments';

async function setup(): Promise<{ provider: TestProvider; client: EnvelopeClient; envelope: Buffer; headerLength: number }> {
  const provider = new TestProvider();
  const client = new EnvelopeClient(provider);
  const envelope = await client.encrypt(KEYRING, Buffer.from('card 4111'), { context: { t: 'a' } });
  return { provider, client, envelope, headerLength: inspectEnvelope(envelope).headerLength };
}

// The rules every header-only re-wrap obeys, whichever entry point (issue 11): a revoked
// version's data key may be exposed, so it is never carried over to a new version; and the
// target is the active version only, so a re-wrap can neither undo a rotation nor skip a
// pending version's propagation window.
describe('EnvelopeClient re-wrap rules', () => {
  describe('a revoked source version', () => {
    it.each([
      ['rewrap', (c: EnvelopeClient, e: Buffer) => c.rewrap(e, { purpose: 'reencrypt' })],
      ['rewrapParts', (c: EnvelopeClient, e: Buffer) => c.rewrapParts(e, { purpose: 'reencrypt' })],
      ['rewrapHeader', (c: EnvelopeClient, e: Buffer) => c.rewrapHeader(e.subarray(0, inspectEnvelope(e).headerLength), { purpose: 'reencrypt' })],
    ])('throws RevokedVersionError from %s even for purpose reencrypt, asking the provider for it only with purpose read', async (_entry, act) => {
      // Prepare
      const { provider, client, envelope } = await setup();
      provider.revoked.add(`${KEYRING}#1`);
      provider.active.set(KEYRING, 2);
      const encryptCalls = provider.encryptCalls;
      // Act
      const attempt = act(client, envelope);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(RevokedVersionError);
      await expect(attempt).rejects.toMatchObject({ code: 'VERSION_REVOKED', message: "version 1 of keyring 'payments' is revoked" });
      expect(provider.decryptCalls).toEqual([{ keyring: KEYRING, version: 1, purpose: 'read' }]);
      expect(provider.encryptCalls).toBe(encryptCalls);
    });

    it('still lets the re-encryption path read the revoked version (decrypt for purpose reencrypt)', async () => {
      // Prepare
      const { provider, client, envelope } = await setup();
      provider.revoked.add(`${KEYRING}#1`);
      provider.active.set(KEYRING, 2);
      // Act
      const opened = await client.decrypt(envelope, { context: { t: 'a' }, purpose: 'reencrypt' });
      const fresh = await client.encrypt(KEYRING, opened.plaintext, { context: { t: 'a' } });
      // Assess
      expect(opened.plaintext.toString()).toBe('card 4111');
      expect(inspectEnvelope(fresh).version).toBe(2);
    });
  });

  describe('toVersion', () => {
    it.each([
      ['an older (rotating) version', 3, 2],
      ['a newer (pending) version', 3, 4],
    ])('throws ValidationError naming the active version for %s', async (_what, active, toVersion) => {
      // Prepare
      const { provider, client, envelope, headerLength } = await setup();
      provider.active.set(KEYRING, active);
      // Act / Assess
      const expected = { code: 'VALIDATION', message: expect.stringContaining(`the active version is ${active}`) };
      await expect(client.rewrap(envelope, { toVersion })).rejects.toBeInstanceOf(ValidationError);
      await expect(client.rewrap(envelope, { toVersion })).rejects.toMatchObject(expected);
      await expect(client.rewrapParts(envelope, { toVersion })).rejects.toMatchObject(expected);
      await expect(client.rewrapHeader(envelope.subarray(0, headerLength), { toVersion })).rejects.toMatchObject(expected);
      await expect(client.rewrap(envelope, { toVersion })).rejects.toThrow(`version ${toVersion} is not the active version of keyring '${KEYRING}'`);
    });

    it('re-wraps when toVersion is the active version', async () => {
      // Prepare
      const { provider, client, envelope } = await setup();
      provider.active.set(KEYRING, 3);
      // Act
      const rewrapped = await client.rewrap(envelope, { toVersion: 3 });
      // Assess
      expect(inspectEnvelope(rewrapped).version).toBe(3);
      expect((await client.decrypt(rewrapped, { context: { t: 'a' } })).plaintext.toString()).toBe('card 4111');
    });
  });
});
