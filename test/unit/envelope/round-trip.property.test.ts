import fc from 'fast-check';
import { EnvelopeClient, ENVELOPE_LIMITS, inspectEnvelope } from '../../../shared/envelope';
import { TestProvider, pseudoRandomBytes, runTransform, splitChunks } from './test-provider';

const KEYRING = 'props.keyring_1';

// Mostly small sizes, some around frame boundaries, a few of several MiB.
const sizeArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 4096 }) },
  { weight: 3, arbitrary: fc.integer({ min: 4097, max: 300_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1 << 20, max: 5 << 20 }) },
);
const contextArb = fc.option(
  fc.dictionary(fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }), fc.string({ maxLength: 40, unit: 'grapheme' }), { minKeys: 1, maxKeys: 6 }),
  { nil: undefined },
);
const frameSizeArb = fc.oneof(fc.constantFrom(ENVELOPE_LIMITS.frameSizeMin, 4096, ENVELOPE_LIMITS.frameSizeDefault), fc.integer({ min: ENVELOPE_LIMITS.frameSizeMin, max: 256 * 1024 }));

describe('EnvelopeClient', () => {
  describe('encrypt / decrypt (property)', () => {
    it('round-trips any size, context and storage choice, and rewrap keeps payload bytes', async () => {
      await fc.assert(
        fc.asyncProperty(sizeArb, contextArb, fc.boolean(), fc.integer(), async (size, context, store, seed) => {
          // Prepare
          const provider = new TestProvider();
          const client = new EnvelopeClient(provider);
          const pt = pseudoRandomBytes(size, seed);
          const storeContext = store && context !== undefined;
          // Act
          const envelope = await client.encrypt(KEYRING, pt, { context, storeContext });
          provider.active.set(KEYRING, 2);
          const rewrapped = await client.rewrap(envelope);
          const first = await client.decrypt(envelope, { context });
          const second = await client.decrypt(rewrapped, { context });
          // Assess
          const header = inspectEnvelope(envelope).headerLength;
          expect(first.plaintext.equals(pt)).toBe(true);
          expect(second.plaintext.equals(pt)).toBe(true);
          expect(second.version).toBe(2);
          expect(rewrapped.subarray(header).equals(envelope.subarray(header))).toBe(true);
          expect(rewrapped.subarray(0, header - 44).equals(envelope.subarray(0, header - 44))).toBe(true);
        }),
        { numRuns: 60 },
      );
    });
  });

  describe('encryptStream / decryptStream (property)', () => {
    it('round-trips any size, frame size, chunking and context, through streams and buffers', async () => {
      await fc.assert(
        fc.asyncProperty(
          sizeArb,
          frameSizeArb,
          contextArb,
          fc.boolean(),
          fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 5 }),
          fc.integer(),
          async (size, frameSize, context, store, chunkSizes, seed) => {
            // Prepare
            const provider = new TestProvider();
            const client = new EnvelopeClient(provider);
            const pt = pseudoRandomBytes(size, seed);
            const storeContext = store && context !== undefined;
            // Act
            const envelope = await runTransform(client.encryptStream(KEYRING, { frameSize, context, storeContext }), splitChunks(pt, chunkSizes));
            const streamed = await runTransform(client.decryptStream({ context }), splitChunks(envelope, chunkSizes.slice().reverse()));
            const buffered = await client.decrypt(envelope, { context });
            provider.active.set(KEYRING, 3);
            const rewrapped = await client.rewrap(envelope);
            const afterRewrap = await runTransform(client.decryptStream({ context }), [rewrapped]);
            // Assess
            const info = inspectEnvelope(envelope);
            const frames = Math.floor(size / frameSize);
            expect(envelope.length).toBe(info.headerLength + frames * (frameSize + 16) + 4 + (size - frames * frameSize) + 16);
            expect(streamed.equals(pt)).toBe(true);
            expect(buffered.plaintext.equals(pt)).toBe(true);
            expect(afterRewrap.equals(pt)).toBe(true);
            expect(rewrapped.subarray(info.headerLength).equals(envelope.subarray(info.headerLength))).toBe(true);
          },
        ),
        { numRuns: 40 },
      );
    });
  });
});
