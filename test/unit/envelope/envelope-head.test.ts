import { Readable } from 'node:stream';
import fc from 'fast-check';
import { readEnvelopeHeadStream } from '../../../cli/io';
import { EnvelopeClient, ENVELOPE_LIMITS, inspectEnvelope } from '../../../shared/envelope';
import { HEAD_PROBE_LENGTH, checkEnvelopeHead, finalPrefixOffset, type EnvelopeHead } from '../../../shared/envelope/envelope-head';
import { parseHeader, probeHeaderLength } from '../../../shared/envelope/format';
import { inspectEnvelopeHead } from '../../../shared/envelope/inspect-envelope';
import { DecryptError } from '../../../shared/errors';
import { TestProvider, pseudoRandomBytes, runTransform, splitChunks } from './test-provider';

const KEYRING = 'head.keyring_1';

/**
 * The head of an envelope held in memory, taken as the file reader takes it (cli/io.ts): the
 * probe's worth of leading bytes, the header length from them, the total length, and the 4 bytes
 * at the final frame's prefix. Only those bytes are read.
 */
function headOf(envelope: Buffer): EnvelopeHead {
  const probe = envelope.subarray(0, Math.min(HEAD_PROBE_LENGTH, envelope.length));
  const headerLength = probeHeaderLength(probe);
  if (headerLength === undefined || headerLength > probe.length) throw new DecryptError();
  const header = Buffer.from(probe.subarray(0, headerLength));
  const at = finalPrefixOffset(parseHeader(header), envelope.length);
  if (at === undefined) return { header, totalLength: envelope.length };
  if (at + 4 > envelope.length) throw new DecryptError();
  return { header, totalLength: envelope.length, finalPrefix: Buffer.from(envelope.subarray(at, at + 4)) };
}

/** What inspecting gives: the info, or the class of the error thrown. */
function outcome(inspect: () => unknown): { info: unknown } | { error: string } {
  try {
    return { info: inspect() };
  } catch (err) {
    return { error: (err as Error).constructor.name };
  }
}

const sizeArb = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 5000 }) }, { weight: 2, arbitrary: fc.integer({ min: 5001, max: 200_000 }) });
const contextArb = fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 16 }), fc.string({ maxLength: 32 }), { minKeys: 1, maxKeys: 5 }), { nil: undefined });
const frameSizeArb = fc.constantFrom(ENVELOPE_LIMITS.frameSizeMin, 4096, 65_536);

/** A real envelope from the envelope client: one-shot or framed, with or without a stored context. */
async function makeEnvelope(size: number, context: Record<string, string> | undefined, store: boolean, framed: boolean, frameSize: number, seed: number): Promise<Buffer> {
  const client = new EnvelopeClient(new TestProvider());
  const pt = pseudoRandomBytes(size, seed);
  const storeContext = store && context !== undefined;
  if (!framed) return client.encrypt(KEYRING, pt, { context, storeContext });
  return runTransform(client.encryptStream(KEYRING, { frameSize, context, storeContext }), splitChunks(pt, [7919]));
}

describe('envelope head', () => {
  describe('inspectEnvelopeHead (property)', () => {
    it('says exactly what inspecting the whole envelope says, for any size, context and suite', async () => {
      await fc.assert(
        fc.asyncProperty(sizeArb, contextArb, fc.boolean(), fc.boolean(), frameSizeArb, fc.integer(), async (size, context, store, framed, frameSize, seed) => {
          // Prepare
          const envelope = await makeEnvelope(size, context, store, framed, frameSize, seed);

          // Act
          const head = headOf(envelope);
          const fromHead = inspectEnvelopeHead(head);

          // Assess
          expect(fromHead).toEqual(inspectEnvelope(envelope));
          expect(head.header.equals(envelope.subarray(0, fromHead.headerLength))).toBe(true);
          expect(head.finalPrefix === undefined).toBe(!framed);
        }),
        { numRuns: 80 },
      );
    });

    it('reads the same head from a stream, whatever its chunking', async () => {
      await fc.assert(
        fc.asyncProperty(sizeArb, fc.boolean(), fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 4 }), async (size, framed, chunkSizes) => {
          // Prepare
          const envelope = await makeEnvelope(size, { tenant: 'acme' }, true, framed, 4096, size);

          // Act
          const streamed = await readEnvelopeHeadStream(Readable.from(splitChunks(envelope, chunkSizes)));

          // Assess
          expect(streamed).toEqual(headOf(envelope));
          expect(inspectEnvelopeHead(streamed)).toEqual(inspectEnvelope(envelope));
        }),
        { numRuns: 30 },
      );
    });
  });

  describe('checkEnvelopeHead: damaged envelopes', () => {
    it('agrees with the whole-envelope inspect on every truncation: the same DecryptError, or the same answer', async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 3000 }), fc.boolean(), fc.double({ min: 0, max: 1, noNaN: true }), async (size, framed, where) => {
          // Prepare
          const envelope = await makeEnvelope(size, { a: 'b' }, true, framed, ENVELOPE_LIMITS.frameSizeMin, size);
          const truncated = envelope.subarray(0, Math.floor(where * envelope.length));

          // Act
          const whole = outcome(() => inspectEnvelope(Buffer.from(truncated)));
          const fromHead = outcome(() => inspectEnvelopeHead(headOf(truncated)));

          // Assess
          expect(fromHead).toEqual(whole);
        }),
        { numRuns: 150 },
      );
    });

    it('agrees with the whole-envelope inspect on any byte changed in the header or the final prefix', async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 3000 }), fc.boolean(), fc.nat(), fc.integer({ min: 1, max: 255 }), async (size, framed, pick, xor) => {
          // Prepare: change one byte where the head is read from
          const envelope = await makeEnvelope(size, { tenant: 'acme' }, true, framed, ENVELOPE_LIMITS.frameSizeMin, size);
          const head = headOf(envelope);
          const at = finalPrefixOffset(parseHeader(head.header), envelope.length);
          const positions = [...Array.from({ length: head.header.length }, (_, i) => i), ...(at === undefined ? [] : [at, at + 1, at + 2, at + 3])];
          const damaged = Buffer.from(envelope);
          const position = positions[pick % positions.length] as number;
          damaged[position] = (damaged[position] as number) ^ xor;

          // Act
          const whole = outcome(() => inspectEnvelope(damaged));
          const fromHead = outcome(() => inspectEnvelopeHead(headOf(damaged)));

          // Assess
          expect(fromHead).toEqual(whole);
        }),
        { numRuns: 200 },
      );
    });

    it.each([
      ['no bytes', Buffer.alloc(0)],
      ['a wrong format version', Buffer.from([0x09, 0x01, 0x00, 0x03, 0x61, 0x62, 0x63])],
      ['an unknown suite', Buffer.from([0x01, 0x07, 0x00, 0x03])],
      ['text that is no envelope', Buffer.from('-----BEGIN PGP MESSAGE-----\nsecret\n')],
      ['random bytes', pseudoRandomBytes(4096, 7)],
    ])('throws DecryptError for %s, as the whole-envelope inspect does', (_name, garbage) => {
      // Act / Assess
      expect(() => inspectEnvelope(garbage)).toThrow(DecryptError);
      expect(() => inspectEnvelopeHead(headOf(garbage))).toThrow(DecryptError);
    });

    it('throws DecryptError for a header given with a length that is not its own', async () => {
      // Prepare
      const envelope = await makeEnvelope(100, undefined, false, false, 4096, 1);
      const head = headOf(envelope);

      // Act / Assess
      expect(() => checkEnvelopeHead({ ...head, header: Buffer.concat([head.header, Buffer.from([0])]) })).toThrow(DecryptError);
      expect(() => checkEnvelopeHead({ ...head, header: head.header.subarray(0, head.header.length - 1) })).toThrow(DecryptError);
    });

    it('throws DecryptError for a framed head without its final prefix or with a wrong one', async () => {
      // Prepare
      const envelope = await makeEnvelope(10_000, undefined, false, true, 4096, 2);
      const { finalPrefix, ...rest } = headOf(envelope);
      const wrong = Buffer.from(finalPrefix as Buffer);
      wrong.writeUInt32BE(wrong.readUInt32BE(0) + 1, 0);

      // Act / Assess
      expect(() => checkEnvelopeHead(rest)).toThrow(DecryptError);
      expect(() => checkEnvelopeHead({ ...rest, finalPrefix: wrong })).toThrow(DecryptError);
      expect(() => checkEnvelopeHead({ ...rest, finalPrefix: (finalPrefix as Buffer).subarray(0, 3) })).toThrow(DecryptError);
      expect(checkEnvelopeHead({ ...rest, finalPrefix: finalPrefix as Buffer }).suite).toBe(2);
    });

    it('throws DecryptError for a total length no envelope has', async () => {
      // Prepare: a one-shot body shorter than its tag, a framed body shorter than a final frame
      const oneShot = headOf(await makeEnvelope(10, undefined, false, false, 4096, 3));
      const framed = headOf(await makeEnvelope(10, undefined, false, true, 4096, 4));

      // Act / Assess
      expect(() => checkEnvelopeHead({ ...oneShot, totalLength: oneShot.header.length + 15 })).toThrow(DecryptError);
      expect(() => finalPrefixOffset(parseHeader(framed.header), framed.header.length + 19)).toThrow(DecryptError);
    });
  });
});
