import fc from 'fast-check';
import { EnvelopeClient, inspectEnvelope } from '../../../shared/envelope';
import { envelopeFromS3Object, HEADER_METADATA, MAX_METADATA_HEADER_BYTES, s3ObjectFromEnvelope } from '../../../shared/envelope/s3-object-layout';
import { NotARecordError, ValidationError } from '../../../shared/errors';
import { TestProvider, pseudoRandomBytes } from './test-provider';

const KEYRING = 'orders';
const contextArb = fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 24 }), fc.string({ maxLength: 120 }), { minKeys: 1, maxKeys: 12 }), { nil: undefined });

describe('S3 object layouts of an envelope (the package helpers)', () => {
  it('round-trips any envelope in either layout; the metadata layout keeps exactly the header in metadata when it fits', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 70_000 }), contextArb, fc.boolean(), fc.constantFrom('body' as const, 'metadata' as const), fc.integer(), async (size, context, store, layout, seed) => {
        // Prepare
        const client = new EnvelopeClient(new TestProvider());
        const envelope = await client.encrypt(KEYRING, pseudoRandomBytes(size, seed), { context, storeContext: store && context !== undefined });
        const headerLength = inspectEnvelope(envelope).headerLength;
        // Act
        const { body, metadata } = s3ObjectFromEnvelope(envelope, layout);
        const back = envelopeFromS3Object({ body, metadata });
        // Assess
        expect(back.equals(envelope)).toBe(true);
        expect(metadata).toMatchObject({ 'rekey-keyring': KEYRING, 'rekey-version': String(inspectEnvelope(envelope).version) });
        const inMetadata = layout === 'metadata' && headerLength <= MAX_METADATA_HEADER_BYTES && headerLength < envelope.length;
        expect(metadata[HEADER_METADATA] !== undefined).toBe(inMetadata);
        expect(body.length).toBe(inMetadata ? envelope.length - headerLength : envelope.length);
        // S3's 2 KB limit on a PUT's user metadata (keys and values).
        expect(Object.entries(metadata).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0)).toBeLessThanOrEqual(2048);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses header metadata that is no whole header, and bytes that are no envelope, with typed errors', async () => {
    // Prepare
    const envelope = await new EnvelopeClient(new TestProvider()).encrypt(KEYRING, Buffer.from('x'.repeat(100)));
    const { body, metadata } = s3ObjectFromEnvelope(envelope, 'metadata');
    const header = Buffer.from(metadata[HEADER_METADATA]!, 'base64');
    // Act / Assess
    for (const bad of ['', '!!!', header.subarray(0, header.length - 1).toString('base64'), Buffer.concat([header, Buffer.from([0])]).toString('base64'), 'A'.repeat(5000)]) {
      expect(() => envelopeFromS3Object({ body, metadata: { ...metadata, [HEADER_METADATA]: bad } })).toThrow(NotARecordError);
    }
    expect(() => s3ObjectFromEnvelope(Buffer.from('not an envelope'), 'metadata')).toThrow(ValidationError);
    expect(() => s3ObjectFromEnvelope(envelope, 'sideways' as never)).toThrow(ValidationError);
    expect(envelopeFromS3Object({ body: envelope }).equals(envelope)).toBe(true);
    // An object's old metadata passed back as the application's own keys: its rekey-* keys never carry over.
    const asBody = s3ObjectFromEnvelope(envelope, 'body', { ...metadata, owner: 'team' });
    expect(asBody.metadata).toEqual({ owner: 'team', 'rekey-keyring': KEYRING, 'rekey-version': metadata['rekey-version'], 'rekey-origin': metadata['rekey-origin'] });
    expect(envelopeFromS3Object(asBody).equals(envelope)).toBe(true);
  });
});
