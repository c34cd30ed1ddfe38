import { EnvelopeClient, inspectEnvelope } from '../../../shared/envelope';
import { ContextRequiredError, DecryptError, UnknownKeyringError, ValidationError } from '../../../shared/errors';
import { TestProvider, pseudoRandomBytes, runTransform, splitChunks } from './test-provider';

const KEYRING = 'payments-service';

function setup(): { provider: TestProvider; client: EnvelopeClient } {
  const provider = new TestProvider();
  return { provider, client: new EnvelopeClient(provider) };
}

describe('EnvelopeClient', () => {
  describe('encryptStream', () => {
    it('ends an exact multiple of the frame size with an empty final frame', async () => {
      // Prepare
      const { client } = setup();
      const pt = pseudoRandomBytes(2048, 5);
      // Act
      const envelope = await runTransform(client.encryptStream(KEYRING, { frameSize: 1024 }), splitChunks(pt, [100, 1500]));
      // Assess
      const header = inspectEnvelope(envelope).headerLength;
      expect(envelope.length).toBe(header + 2 * (1024 + 16) + 4 + 16);
      expect(envelope.readUInt32BE(envelope.length - 20)).toBe(0);
      expect((await client.decrypt(envelope)).plaintext.equals(pt)).toBe(true);
    });

    it('encrypts an empty input as a header and one empty final frame', async () => {
      // Prepare
      const { client } = setup();
      // Act
      const envelope = await runTransform(client.encryptStream(KEYRING), []);
      // Assess
      expect(envelope.length).toBe(inspectEnvelope(envelope).headerLength + 20);
      expect((await client.decrypt(envelope)).plaintext.length).toBe(0);
    });

    it('throws ValidationError for a bad frame size', () => {
      // Prepare
      const { client } = setup();
      // Act / Assess
      expect(() => client.encryptStream(KEYRING, { frameSize: 100 })).toThrow(ValidationError);
    });

    it('errors the stream with the provider error', async () => {
      // Prepare
      const client = new EnvelopeClient(new TestProvider('s', { knownKeyrings: [] }));
      // Act / Assess
      await expect(runTransform(client.encryptStream(KEYRING), [Buffer.from('x')])).rejects.toThrow(UnknownKeyringError);
    });
  });

  describe('decryptStream', () => {
    it('emits each frame only after it authenticates', async () => {
      // Prepare
      const { client } = setup();
      const pt = pseudoRandomBytes(4096 + 10, 6);
      const envelope = await runTransform(client.encryptStream(KEYRING, { frameSize: 1024 }), [pt]);
      const header = inspectEnvelope(envelope).headerLength;
      const tampered = Buffer.from(envelope);
      tampered[header + 2 * 1040 + 5]! ^= 1; // inside frame 2
      const emitted: Buffer[] = [];
      const stream = client.decryptStream();
      stream.on('data', (d: Buffer) => emitted.push(d));
      // Act
      const failure = await new Promise<unknown>((resolve) => {
        stream.on('error', resolve);
        stream.end(tampered);
      });
      // Assess
      expect(failure).toEqual(new DecryptError());
      expect(Buffer.concat(emitted).equals(pt.subarray(0, 2048))).toBe(true);
    });

    it('decrypts a one-shot envelope fed in small chunks', async () => {
      // Prepare
      const { client } = setup();
      const pt = pseudoRandomBytes(3000, 7);
      const envelope = await client.encrypt(KEYRING, pt, { context: { a: 'b' }, storeContext: true });
      // Act
      const out = await runTransform(client.decryptStream({ context: { a: 'b' } }), splitChunks(envelope, [1, 7, 50]));
      // Assess
      expect(out.equals(pt)).toBe(true);
    });

    it('errors with DecryptError when the stream ends inside the header or without a final frame', async () => {
      // Prepare
      const { client } = setup();
      const envelope = await runTransform(client.encryptStream(KEYRING, { frameSize: 1024 }), [pseudoRandomBytes(3000, 8)]);
      const header = inspectEnvelope(envelope).headerLength;
      // Act / Assess
      await expect(runTransform(client.decryptStream(), [envelope.subarray(0, 10)])).rejects.toThrow(new DecryptError());
      await expect(runTransform(client.decryptStream(), [envelope.subarray(0, header + 2 * 1040)])).rejects.toThrow(new DecryptError());
      await expect(runTransform(client.decryptStream(), [])).rejects.toThrow(new DecryptError());
    });

    it('rejects a one-shot body beyond the one-shot limit without buffering it all', async () => {
      // Prepare
      const { client } = setup();
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'));
      const header = inspectEnvelope(envelope).headerLength;
      const mib = Buffer.alloc(1 << 20);
      const chunks = [envelope.subarray(0, header), ...Array.from({ length: 65 }, () => mib)];
      // Act / Assess
      await expect(runTransform(client.decryptStream(), chunks)).rejects.toThrow(new DecryptError());
    });

    it('passes ContextRequiredError through', async () => {
      // Prepare
      const { client } = setup();
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'), { context: { a: 'b' } });
      // Act / Assess
      await expect(runTransform(client.decryptStream(), [envelope])).rejects.toThrow(ContextRequiredError);
    });
  });
});
