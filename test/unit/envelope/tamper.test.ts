import { EnvelopeClient, inspectEnvelope } from '../../../shared/envelope';
import type { CallerContext } from '../../../shared/envelope';
import { ContextMismatchError, ContextRequiredError, DecryptError } from '../../../shared/errors';
import { TestProvider, pseudoRandomBytes, runTransform } from './test-provider';

// The provider has a key for every (keyring, version): a flipped name or version selects
// another existing key, the strongest case for the tamper checks.
const provider = new TestProvider();
const client = new EnvelopeClient(provider);
const KEYRING = 'payments-service';
const FRAME = 1024;

async function failure(envelope: Buffer, context?: CallerContext): Promise<unknown> {
  try {
    await client.decrypt(envelope, { context });
  } catch (err) {
    return err;
  }
  return undefined;
}

function flip(buf: Buffer, bit: number): Buffer {
  const out = Buffer.from(buf);
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

function expectDecryptError(err: unknown, where: string): void {
  if (!(err instanceof DecryptError) || err.message !== DecryptError.MESSAGE) throw new Error(`not a DecryptError at ${where}: ${String(err)}`);
}

describe('EnvelopeClient', () => {
  describe('decrypt (tamper)', () => {
    let oneShot: Buffer;
    let oneShotStored: Buffer;
    let framed: Buffer;
    const ctx = { tenant: 'acme', record: '42' };

    beforeAll(async () => {
      oneShot = await client.encrypt(KEYRING, pseudoRandomBytes(700, 1), { context: ctx });
      oneShotStored = await client.encrypt(KEYRING, pseudoRandomBytes(700, 2), { context: ctx, storeContext: true });
      framed = await runTransform(client.encryptStream(KEYRING, { frameSize: FRAME }), [pseudoRandomBytes(3 * FRAME + 100, 3)]);
    });

    it('rejects every single-bit flip of a one-shot header with DecryptError', async () => {
      // Prepare
      const header = inspectEnvelope(oneShot).headerLength;
      // Setting the stored-context flag (bit 17) makes the parser read the following header
      // bytes as a stored context; when those (random) bytes happen to parse, the caller's
      // context is compared against them first. Either answer refuses the envelope and
      // reveals nothing about the key, so both are accepted there, and only there.
      const storedFlagBit = 2 * 8 + 1;
      // Act / Assess
      for (let bit = 0; bit < header * 8; bit += 1) {
        const err = await failure(flip(oneShot, bit), ctx);
        if (bit === storedFlagBit && err instanceof ContextMismatchError) continue;
        expectDecryptError(err, `bit ${bit}`);
      }
    });

    it('rejects every single-bit flip of a stored-context header (ContextMismatchError inside the stored context field)', async () => {
      // Prepare
      const info = inspectEnvelope(oneShotStored);
      const ctxStart = 4 + KEYRING.length;
      const ctxEnd = info.headerLength - 44 - 32 - 4; // the origin version follows the context
      // Act / Assess
      for (let bit = 0; bit < info.headerLength * 8; bit += 1) {
        const err = await failure(flip(oneShotStored, bit), ctx);
        const byte = bit >> 3;
        if (byte >= ctxStart && byte < ctxEnd && err instanceof ContextMismatchError) continue;
        expectDecryptError(err, `bit ${bit}`);
      }
    });

    it('rejects every single-bit flip of a framed header (ContextRequiredError only for the bound flag)', async () => {
      // Prepare
      const header = inspectEnvelope(framed).headerLength;
      // Act / Assess
      for (let bit = 0; bit < header * 8; bit += 1) {
        const err = await failure(flip(framed, bit));
        if (bit === 2 * 8 && err instanceof ContextRequiredError) continue;
        expectDecryptError(err, `bit ${bit}`);
      }
    });

    it('rejects every bit flip within 8 bytes of each frame boundary, and a sample of body bits', async () => {
      // Prepare
      const header = inspectEnvelope(framed).headerLength;
      const boundaries = [header, header + 1040, header + 2080, header + 3120, framed.length - 16, framed.length];
      const bits = new Set<number>();
      for (const b of boundaries) for (let byte = Math.max(header, b - 8); byte < Math.min(framed.length, b + 8); byte += 1) for (let i = 0; i < 8; i += 1) bits.add(byte * 8 + i);
      for (let i = 0; i < 300; i += 1) bits.add(header * 8 + ((i * 7919) % ((framed.length - header) * 8)));
      // Act / Assess
      for (const bit of bits) expectDecryptError(await failure(flip(framed, bit)), `bit ${bit}`);
      for (let i = 0; i < 200; i += 1) {
        const bit = (inspectEnvelope(oneShot).headerLength + ((i * 104729) % 700)) * 8 + (i % 8);
        expectDecryptError(await failure(flip(oneShot, bit), ctx), `one-shot bit ${bit}`);
      }
    });

    it('rejects truncation at every frame boundary and inside the final frame', async () => {
      // Prepare
      const header = inspectEnvelope(framed).headerLength;
      const cuts = [0, 1, header - 1, header, header + 1040, header + 2080, header + 3120, header + 3120 + 4, framed.length - 1];
      // Act / Assess
      for (const cut of cuts) {
        expectDecryptError(await failure(framed.subarray(0, cut)), `cut ${cut}`);
        await expect(runTransform(client.decryptStream(), [framed.subarray(0, cut)])).rejects.toThrow(new DecryptError());
      }
      expectDecryptError(await failure(oneShot.subarray(0, oneShot.length - 1), ctx), 'one-shot cut');
    });

    it('rejects extension after the final frame and reordered or duplicated frames', async () => {
      // Prepare
      const header = inspectEnvelope(framed).headerLength;
      const f = (i: number): Buffer => framed.subarray(header + i * 1040, header + (i + 1) * 1040);
      const head = framed.subarray(0, header);
      const final = framed.subarray(header + 3120);
      const variants = [
        Buffer.concat([framed, Buffer.from([0])]),
        Buffer.concat([framed, final]),
        Buffer.concat([framed, Buffer.alloc(1040 + 20)]),
        Buffer.concat([head, f(1), f(0), f(2), final]),
        Buffer.concat([head, f(0), f(0), f(2), final]),
        Buffer.concat([head, f(0), f(1), final]),
        Buffer.concat([head, f(0), f(1), f(2), f(2), final]),
      ];
      // Act / Assess
      for (const [i, v] of variants.entries()) {
        expectDecryptError(await failure(v), `variant ${i}`);
        await expect(runTransform(client.decryptStream(), [v])).rejects.toThrow(new DecryptError());
      }
    });

    it('rejects frames, headers and key slots swapped between two envelopes', async () => {
      // Prepare
      const other = await runTransform(client.encryptStream(KEYRING, { frameSize: FRAME }), [pseudoRandomBytes(3 * FRAME + 100, 3)]);
      const header = inspectEnvelope(framed).headerLength;
      const a1 = await client.encrypt(KEYRING, pseudoRandomBytes(700, 9), { context: ctx });
      const slot = header - 44;
      const variants = [
        Buffer.concat([other.subarray(0, header), framed.subarray(header)]),
        Buffer.concat([framed.subarray(0, header + 1040), other.subarray(header + 1040, header + 2080), framed.subarray(header + 2080)]),
        Buffer.concat([framed.subarray(0, slot), other.subarray(slot, header), framed.subarray(header)]),
      ];
      const oneShotSwap = Buffer.concat([a1.subarray(0, inspectEnvelope(a1).headerLength), oneShot.subarray(inspectEnvelope(oneShot).headerLength)]);
      // Act / Assess
      for (const [i, v] of variants.entries()) expectDecryptError(await failure(v), `variant ${i}`);
      expectDecryptError(await failure(oneShotSwap, ctx), 'one-shot header swap');
    });
  });
});
