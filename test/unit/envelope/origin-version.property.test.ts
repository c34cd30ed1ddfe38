import fc from 'fast-check';
import { EnvelopeClient, inspectEnvelope } from '../../../shared/envelope';
import type { CallerContext } from '../../../shared/envelope';
import { parseHeader } from '../../../shared/envelope/format';
import { ContextMismatchError, ContextRequiredError, DecryptError, ValidationError } from '../../../shared/errors';
import { TestProvider, pseudoRandomBytes, runTransform } from './test-provider';

const KEYRING = 'origin.keyring';

const contextArb = fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }), fc.string({ maxLength: 24, unit: 'grapheme' }), { minKeys: 1, maxKeys: 4 }), {
  nil: undefined,
});
// Strictly increasing active versions: each step of a rotation moves forward by 1..1000.
const rotationsArb = fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 6 });

/** Byte offset of the origin version in a header (the 4 bytes before the commitment). */
function originOffset(envelope: Buffer): number {
  return parseHeader(envelope).originOffset;
}

async function outcome(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  return 'opened';
}

// Issue 11: the version under which each data key was created is recorded and authenticated in
// the header, so that revoking a version can find every data key it ever wrapped, also after
// routine rotation re-wrapped them header-only under newer versions.
describe('envelope origin version', () => {
  describe('encrypt', () => {
    it('records the key version as the origin version, in the header and in inspect', async () => {
      // Prepare
      const provider = new TestProvider();
      provider.active.set(KEYRING, 41);
      const client = new EnvelopeClient(provider);
      // Act
      const oneShot = await client.encrypt(KEYRING, Buffer.from('x'));
      const framed = await runTransform(client.encryptStream(KEYRING, { frameSize: 1024 }), [Buffer.from('y')]);
      // Assess
      for (const envelope of [oneShot, framed]) {
        expect(envelope.readUInt32BE(originOffset(envelope))).toBe(41);
        expect(inspectEnvelope(envelope)).toMatchObject({ version: 41, originVersion: 41 });
        expect(parseHeader(envelope).originVersion).toBe(41);
      }
    });
  });

  describe('rewrap (property)', () => {
    it('keeps the origin version through any chain of header-only re-wraps, and re-encryption resets it', async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 50 }), rotationsArb, contextArb, fc.boolean(), fc.boolean(), async (first, steps, context, store, detached) => {
          // Prepare
          const provider = new TestProvider();
          const client = new EnvelopeClient(provider);
          provider.active.set(KEYRING, first);
          const pt = pseudoRandomBytes(100, first);
          const storeContext = store && context !== undefined;
          const original = await client.encrypt(KEYRING, pt, { context, storeContext });
          const headerLength = inspectEnvelope(original).headerLength;
          // Act: rotate and re-wrap at every step, through rewrap or the detached-header path
          let envelope = original;
          let active = first;
          const seen: Array<[number, number]> = [];
          for (const step of steps) {
            active += step;
            provider.active.set(KEYRING, active);
            if (detached) {
              const { header, originVersion } = await client.rewrapHeader(envelope.subarray(0, headerLength));
              expect(originVersion).toBe(first);
              envelope = Buffer.concat([header, envelope.subarray(headerLength)]);
            } else {
              envelope = await client.rewrap(envelope);
            }
            const info = inspectEnvelope(envelope);
            seen.push([info.version, info.originVersion]);
          }
          const opened = await client.decrypt(envelope, { context });
          const reencrypted = await client.encrypt(KEYRING, opened.plaintext, { context, storeContext });
          // Assess
          let expectedActive = first;
          expect(seen).toEqual(steps.map((s) => [(expectedActive += s), first]));
          expect(opened.plaintext.equals(pt)).toBe(true);
          expect(envelope.subarray(0, headerLength - 44).equals(original.subarray(0, headerLength - 44))).toBe(true);
          expect(inspectEnvelope(reencrypted)).toMatchObject({ version: active, originVersion: active });
        }),
        { numRuns: 60 },
      );
    });

    it('throws ValidationError and writes nothing when the active version is older than the origin version', async () => {
      // Prepare: a catalog gone wrong, whose active version went backwards
      const provider = new TestProvider();
      const client = new EnvelopeClient(provider);
      provider.active.set(KEYRING, 5);
      const envelope = await client.encrypt(KEYRING, Buffer.from('forward only'));
      const before = Buffer.from(envelope);
      provider.active.set(KEYRING, 4);
      // Act
      const attempt = client.rewrap(envelope);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      await expect(attempt).rejects.toThrow(`the active version 4 of keyring '${KEYRING}' is older than the version 5 the data key was created under`);
      expect(envelope.equals(before)).toBe(true);
    });
  });

  describe('parse', () => {
    it.each([
      ['origin version 0', 0],
      ['origin version above the key version', 8],
      ['origin version 2^32 - 1 above key version 7', 0xffff_ffff],
    ])('throws DecryptError for %s, in inspect, decrypt, rewrap and the stream', async (_name, origin) => {
      // Prepare
      const provider = new TestProvider();
      const client = new EnvelopeClient(provider);
      provider.active.set(KEYRING, 7);
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'));
      envelope.writeUInt32BE(origin, originOffset(envelope));
      const decryptCalls = provider.decryptCalls.length;
      // Act / Assess
      expect(() => inspectEnvelope(envelope)).toThrow(new DecryptError());
      await expect(client.decrypt(envelope)).rejects.toThrow(new DecryptError());
      await expect(client.rewrap(envelope)).rejects.toThrow(new DecryptError());
      await expect(runTransform(client.decryptStream(), [envelope])).rejects.toThrow(new DecryptError());
      expect(provider.decryptCalls.length).toBe(decryptCalls);
    });

    it('throws DecryptError after any change of the origin version that stays within 1..version (authenticated)', async () => {
      // Prepare
      const provider = new TestProvider();
      const client = new EnvelopeClient(provider);
      provider.active.set(KEYRING, 9);
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'), { context: { t: '1' } });
      provider.active.set(KEYRING, 12);
      const rewrapped = await client.rewrap(envelope);
      // Act / Assess: claiming the data key is newer (or older) than it is fails the commitment
      for (const origin of [1, 8, 10, 12]) {
        const forged = Buffer.from(rewrapped);
        forged.writeUInt32BE(origin, originOffset(forged));
        expect(inspectEnvelope(forged).originVersion).toBe(origin);
        await expect(client.decrypt(forged, { context: { t: '1' } })).rejects.toThrow(new DecryptError());
        await expect(client.rewrap(forged, { context: { t: '1' } })).rejects.toThrow(new DecryptError());
      }
    });
  });
});

describe('key commitment over the header and the context', () => {
  describe('decrypt (property)', () => {
    it('refuses an envelope with any authenticated-header byte changed, never releasing plaintext', async () => {
      await fc.assert(
        fc.asyncProperty(contextArb, fc.boolean(), fc.boolean(), fc.nat(), fc.integer({ min: 1, max: 255 }), async (context, store, framed, pick, xor) => {
          // Prepare
          const provider = new TestProvider();
          const client = new EnvelopeClient(provider);
          provider.active.set(KEYRING, 3);
          const storeContext = store && context !== undefined;
          const pt = pseudoRandomBytes(1500, pick);
          const envelope = framed
            ? await runTransform(client.encryptStream(KEYRING, { frameSize: 1024, context, storeContext }), [pt])
            : await client.encrypt(KEYRING, pt, { context, storeContext });
          const ahLength = parseHeader(envelope).ahLength;
          const byte = pick % ahLength;
          const tampered = Buffer.from(envelope);
          tampered[byte]! ^= xor;
          // Act
          const result = await outcome(client.decrypt(tampered, { context }));
          // Assess: one DecryptError, or for the flags byte and the stored context the typed
          // context refusals that the clear header already shows
          expect(result).not.toBe('opened');
          const contextRefusal = result instanceof ContextMismatchError || result instanceof ContextRequiredError;
          if (!(result instanceof DecryptError && result.message === DecryptError.MESSAGE)) expect(contextRefusal).toBe(true);
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('rewrap', () => {
    const bound: CallerContext = { tenant: 'acme', record: 'r-1' };

    it('re-wraps a bound, unstored context without it (the reader checks the commitment) and checks it when given', async () => {
      // Prepare
      const provider = new TestProvider();
      const client = new EnvelopeClient(provider);
      const envelope = await client.encrypt(KEYRING, Buffer.from('bound'), { context: bound });
      provider.active.set(KEYRING, 2);
      // Act
      const withoutContext = await client.rewrap(envelope);
      const withContext = await client.rewrap(envelope, { context: bound });
      const wrongContext = outcome(client.rewrap(envelope, { context: { tenant: 'evil', record: 'r-1' } }));
      // Assess
      expect(withContext.equals(withoutContext)).toBe(true);
      expect((await client.decrypt(withoutContext, { context: bound })).plaintext.toString()).toBe('bound');
      await expect(client.decrypt(withoutContext, { context: { tenant: 'evil', record: 'r-1' } })).rejects.toThrow(new DecryptError());
      expect(await wrongContext).toEqual(new DecryptError());
    });

    it('checks a stored context from the header alone, and refuses a differing supplied one with ContextMismatchError', async () => {
      // Prepare: an envelope whose stored context is swapped in the header (AH no longer matches C)
      const provider = new TestProvider();
      const client = new EnvelopeClient(provider);
      const envelope = await client.encrypt(KEYRING, Buffer.from('stored'), { context: { t: 'a' }, storeContext: true });
      const swapped = Buffer.from(envelope);
      const pair = Buffer.from('0001740001', 'hex'); // key length 1, 't', value length 1
      swapped[swapped.indexOf(pair) + pair.length] = 0x62; // the stored context now reads { t: 'b' }
      provider.active.set(KEYRING, 2);
      // Act
      const ok = await client.rewrap(envelope);
      const forged = outcome(client.rewrap(swapped));
      const mismatch = outcome(client.rewrap(envelope, { context: { t: 'z' } }));
      // Assess
      expect(inspectEnvelope(ok).version).toBe(2);
      expect(inspectEnvelope(swapped).storedContext).toEqual({ t: 'b' });
      expect(await forged).toEqual(new DecryptError());
      expect(await mismatch).toBeInstanceOf(ContextMismatchError);
    });

    it('throws DecryptError when a context is supplied for an envelope that binds none', async () => {
      // Prepare
      const provider = new TestProvider();
      const client = new EnvelopeClient(provider);
      const envelope = await client.encrypt(KEYRING, Buffer.from('unbound'));
      // Act / Assess
      await expect(client.rewrap(envelope, { context: { t: 'a' } })).rejects.toThrow(new DecryptError());
    });
  });
});
