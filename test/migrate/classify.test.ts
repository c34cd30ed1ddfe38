import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { classifyRecord, ESDK_HEADER_LIMITS, probeEsdkHeader } from '../../shared/migrate';
import { esdkKey, esdkMessage, stackWith } from './support';
import type { LocalStack } from '../unit/reencrypt/support/local-stack';

describe('probeEsdkHeader', () => {
  const key = esdkKey();

  it.each([
    ['v2-signed', 2, 0x0578],
    ['v2-unsigned', 2, 0x0478],
    ['v1-legacy', 1, 0x0178],
  ] as const)('recognizes a %s message written by @aws-crypto/client-node', async (flavour, formatVersion, suiteId) => {
    // Prepare
    const message = await esdkMessage(key, Buffer.from('{"order":1}'), { flavour, context: { tenant: 'acme' } });
    // Act
    const probe = probeEsdkHeader(message);
    // Assess
    expect(probe).toMatchObject({ kind: 'esdk', formatVersion, suiteId, framed: true });
    expect(probe.kind === 'esdk' && probe.headerLength < message.length).toBe(true);
  });

  it('calls a message cut inside its header malformed, at every cut', async () => {
    // Prepare
    const message = await esdkMessage(key, Buffer.from('x'), { flavour: 'v2-unsigned', context: { a: 'b' } });
    const probe = probeEsdkHeader(message);
    const headerLength = probe.kind === 'esdk' ? probe.headerLength : 0;
    // Act
    const kinds = new Set<string>();
    for (let n = 3; n < headerLength; n += 1) kinds.add(probeEsdkHeader(message.subarray(0, n)).kind);
    // Assess
    expect(headerLength).toBeGreaterThan(100);
    expect([...kinds]).toEqual(['malformed']);
  });

  it('calls a header with a non-zero reserved field (v1) or an EDK count over the limit malformed', async () => {
    // Prepare
    const v1 = await esdkMessage(key, Buffer.from('x'), { flavour: 'v1-legacy' });
    const probe = probeEsdkHeader(v1);
    const headerLength = probe.kind === 'esdk' ? probe.headerLength : 0;
    // reserved is the 4 bytes after the content type: header end - tag(16) - iv(12) - frame(4) - ivlen(1) - reserved(4)
    const reservedAt = headerLength - 16 - 12 - 4 - 1 - 4;
    const tampered = Buffer.from(v1);
    tampered[reservedAt] = 1;
    // An EDK count field right after an empty AAD (v2, no context): version, suite, id(32), aad len(2) = 0.
    const v2 = Buffer.from(await esdkMessage(key, Buffer.from('x'), { flavour: 'v2-unsigned' }));
    v2.writeUInt16BE(ESDK_HEADER_LIMITS.maxEncryptedDataKeys + 1, 1 + 2 + 32 + 2);
    // Act / Assess
    expect(probeEsdkHeader(tampered).kind).toBe('malformed');
    expect(probeEsdkHeader(v2).kind).toBe('malformed');
  });

  it('calls text, JSON and short inputs none', () => {
    // Act / Assess
    for (const s of ['', 'a', '{"id":1}', 'hello world', '\u0001\u0080']) expect(probeEsdkHeader(Buffer.from(s, 'latin1')).kind).toBe('none');
  });
});

describe('classifyRecord', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await stackWith('pii');
  });
  afterAll(() => stack.close());

  it('tells rekey envelopes, ESDK messages, plaintext and lookalikes apart', async () => {
    // Prepare
    const envelope = await stack.envelopes.encrypt('pii', Buffer.from('secret'), { context: { 'rekey:record-id': 'r' } });
    const message = await esdkMessage(esdkKey(), Buffer.from('secret'));
    // Act / Assess
    expect(classifyRecord(envelope)).toBe('rekey');
    expect(classifyRecord(message)).toBe('esdk');
    expect(classifyRecord(Buffer.from('{"card":"4111"}'))).toBe('plaintext');
    expect(classifyRecord(Buffer.alloc(0))).toBe('plaintext');
    // A rekey header without its body, or a damaged one: never taken for plaintext.
    expect(classifyRecord(envelope.subarray(0, 20))).toBe('undecidable');
    expect(classifyRecord(message.subarray(0, 40))).toBe('undecidable');
  });

  it('property: every rekey envelope, one-shot or framed, is rekey', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.boolean(), async (bytes, framed) => {
        // Act
        const plaintext = Buffer.from(bytes);
        const envelope = framed
          ? await streamed(stack, plaintext)
          : await stack.envelopes.encrypt('pii', plaintext);
        // Assess
        expect(classifyRecord(envelope)).toBe('rekey');
      }),
      { numRuns: 60 },
    );
  });

  it('property: never throws, and UTF-8 text is plaintext', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.string({ maxLength: 200 }), (bytes, text) => {
        // Act / Assess
        expect(['rekey', 'esdk', 'plaintext', 'undecidable']).toContain(classifyRecord(Buffer.from(bytes)));
        expect(classifyRecord(Buffer.from(text, 'utf8'))).toBe('plaintext');
      }),
      { numRuns: 500 },
    );
  });

  it('finds no ESDK message in random bytes of its own accord', () => {
    // Act
    let esdk = 0;
    for (let i = 0; i < 2000; i += 1) if (classifyRecord(randomBytes(64)) === 'esdk') esdk += 1;
    // Assess
    expect(esdk).toBe(0);
  });
});

async function streamed(stack: LocalStack, plaintext: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const t = stack.envelopes.encryptStream('pii', { frameSize: 1024 });
  t.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    t.on('end', resolve);
    t.on('error', reject);
  });
  t.end(plaintext);
  await done;
  return Buffer.concat(chunks);
}
