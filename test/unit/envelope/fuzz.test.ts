import fc from 'fast-check';
import { EnvelopeClient, ENVELOPE_LIMITS, inspectEnvelope } from '../../../shared/envelope';
import { ContextMismatchError, ContextRequiredError, DecryptError } from '../../../shared/errors';
import { TestProvider, pseudoRandomBytes, runTransform } from './test-provider';

const provider = new TestProvider();
const client = new EnvelopeClient(provider);
const ACCEPTED = [DecryptError, ContextRequiredError, ContextMismatchError];

function isAccepted(err: unknown): boolean {
  if (err instanceof DecryptError) return err.message === DecryptError.MESSAGE;
  return ACCEPTED.some((cls) => err instanceof cls);
}

/** Runs `fn` and returns the largest Buffer.allocUnsafe / Buffer.alloc request it made. */
async function largestAllocation(fn: () => Promise<unknown>): Promise<number> {
  let largest = 0;
  const origUnsafe = Buffer.allocUnsafe.bind(Buffer);
  const origSafe = Buffer.alloc.bind(Buffer);
  const unsafe = jest.spyOn(Buffer, 'allocUnsafe').mockImplementation((size: number) => {
    largest = Math.max(largest, size);
    return origUnsafe(size);
  });
  const safe = jest.spyOn(Buffer, 'alloc').mockImplementation(((size: number, fill?: string | Buffer | number, encoding?: BufferEncoding) => {
    largest = Math.max(largest, size);
    return origSafe(size, fill, encoding);
  }) as typeof Buffer.alloc);
  try {
    await fn().catch(() => undefined);
  } finally {
    unsafe.mockRestore();
    safe.mockRestore();
  }
  return largest;
}

async function outcome(envelope: Buffer, context?: Record<string, string>): Promise<'ok' | 'accepted' | unknown> {
  try {
    await client.decrypt(envelope, { context });
    return 'ok';
  } catch (err) {
    return isAccepted(err) ? 'accepted' : err;
  }
}

describe('EnvelopeClient', () => {
  let samples: Buffer[];
  beforeAll(async () => {
    samples = [
      await client.encrypt('k', pseudoRandomBytes(50, 1)),
      await client.encrypt('fuzz.ring', pseudoRandomBytes(300, 2), { context: { a: 'b', c: 'd' }, storeContext: true }),
      await runTransform(client.encryptStream('fuzz-ring', { frameSize: 1024 }), [pseudoRandomBytes(2500, 3)]),
    ];
  });

  describe('decrypt and inspect (fuzz)', () => {
    it('throw only DecryptError on random bytes', async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.boolean(), async (bytes, plausible) => {
          // Prepare: half the inputs start with a plausible version/suite prefix
          const input = Buffer.from(bytes);
          if (plausible && input.length >= 2) {
            input[0] = 1;
            input[1] = 1 + (input[1]! & 1);
          }
          // Act / Assess
          expect(await outcome(input)).toBe('accepted');
          let thrown: unknown;
          try {
            inspectEnvelope(input);
          } catch (err) {
            thrown = err;
          }
          expect(thrown === undefined || thrown instanceof DecryptError).toBe(true);
        }),
        { numRuns: 500 },
      );
    });

    it('throw only the accepted errors on mutated envelopes, in memory and as streams', async () => {
      const mutation = fc.oneof(
        fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
        fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
        fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), value: fc.constant(0) }),
        fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), value: fc.constant(0) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 2 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), async (which, mutations) => {
          // Prepare
          let buf = Buffer.from(samples[which]!);
          for (const m of mutations) {
            const at = buf.length === 0 ? 0 : m.at % buf.length;
            if (m.kind === 'set') buf[at] = m.value === buf[at] ? m.value ^ 1 : m.value;
            if (m.kind === 'insert') buf = Buffer.concat([buf.subarray(0, at), Buffer.from([m.value]), buf.subarray(at)]);
            if (m.kind === 'delete') buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1)]);
            if (m.kind === 'truncate') buf = buf.subarray(0, at);
          }
          const context = which === 1 ? { a: 'b', c: 'd' } : undefined;
          // Act
          const inMemory = await outcome(buf, context);
          const streamed = await runTransform(client.decryptStream({ context }), [buf]).then(
            () => 'ok',
            (err: unknown) => (isAccepted(err) ? 'accepted' : err),
          );
          // Assess: mutations may cancel out (insert then delete at the same place, a byte set
          // back); the envelope is then the original and must decrypt, otherwise be refused.
          const expected = buf.equals(samples[which]!) ? 'ok' : 'accepted';
          expect(inMemory).toBe(expected);
          expect(streamed).toBe(expected);
        }),
        { numRuns: 400 },
      );
    });
  });

  describe('decrypt (limits before allocation)', () => {
    it('rejects headers claiming huge lengths without allocating beyond the input', async () => {
      // Prepare
      const valid = samples[2]!;
      expect(await largestAllocation(() => client.decrypt(valid))).toBeGreaterThanOrEqual(2500); // the probe sees allocations
      const framedHeader = Buffer.from(samples[2]!);
      const keyringEnd = 4 + 'fuzz-ring'.length;
      const hugeFrame = Buffer.from(framedHeader);
      hugeFrame.writeUInt32BE(0xffffffff, keyringEnd);
      const maxFrame = Buffer.from(framedHeader);
      maxFrame.writeUInt32BE(ENVELOPE_LIMITS.frameSizeMax, keyringEnd);
      const storedCtx = Buffer.from(samples[1]!);
      const hugeCtx = Buffer.from(storedCtx);
      hugeCtx.writeUInt16BE(0xffff, 4 + 'fuzz.ring'.length);
      const longKeyring = Buffer.from(samples[0]!);
      longKeyring[3] = 255;
      // Act / Assess
      for (const input of [hugeFrame, maxFrame, hugeCtx, longKeyring]) {
        expect(await outcome(input, { a: 'b', c: 'd' })).toBe('accepted');
        expect(await largestAllocation(() => client.decrypt(input))).toBeLessThanOrEqual(input.length);
        expect(() => inspectEnvelope(input)).toThrow(new DecryptError());
      }
    });

    it('makes a stream fail at once on an impossible header prefix', async () => {
      // Prepare
      const garbage = Buffer.concat([Buffer.from([1, 2, 0, 200]), Buffer.alloc(1 << 20)]);
      // Act / Assess
      await expect(runTransform(client.decryptStream(), [garbage])).rejects.toThrow(new DecryptError());
    });
  });
});
