import { createDecipheriv, createHash } from 'node:crypto';
import { EnvelopeClient, ENVELOPE_LIMITS, inspectEnvelope } from '../../../shared/envelope';
import {
  ContextMismatchError,
  ContextRequiredError,
  DecryptError,
  LimitExceededError,
  RevokedVersionError,
  UnknownKeyringError,
  ValidationError,
} from '../../../shared/errors';
import { TestProvider, pseudoRandomBytes, runTransform } from './test-provider';

const KEYRING = 'payments-service'; // 16 characters, as in the overhead budget

function setup(): { provider: TestProvider; client: EnvelopeClient } {
  const provider = new TestProvider();
  return { provider, client: new EnvelopeClient(provider) };
}

describe('EnvelopeClient', () => {
  describe('constructor', () => {
    it('throws ValidationError when the default frame size is out of bounds', () => {
      // Prepare
      const provider = new TestProvider();
      // Act / Assess
      expect(() => new EnvelopeClient(provider, { frameSize: 1023 })).toThrow(ValidationError);
      expect(() => new EnvelopeClient(provider, { frameSize: ENVELOPE_LIMITS.frameSizeMax + 1 })).toThrow(ValidationError);
    });
  });

  describe('encrypt', () => {
    it('produces 116 bytes of overhead with a 16-character keyring and no context', async () => {
      // Prepare
      const { client } = setup();
      // Act
      const envelope = await client.encrypt(KEYRING, Buffer.from('hello'));
      // Assess
      expect(envelope.length - 5).toBe(4 + KEYRING.length + 4 + 32 + 4 + 40 + 16);
      expect(envelope.length - 5).toBe(116);
    });

    it('writes the documented header fields', async () => {
      // Prepare
      const { client, provider } = setup();
      provider.active.set(KEYRING, 7);
      // Act
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'));
      // Assess
      expect(envelope[0]).toBe(1);
      expect(envelope[1]).toBe(1);
      expect(envelope[2]).toBe(0);
      expect(envelope[3]).toBe(KEYRING.length);
      expect(envelope.toString('ascii', 4, 4 + KEYRING.length)).toBe(KEYRING);
      expect(envelope.readUInt32BE(4 + KEYRING.length)).toBe(7); // origin version = key version
      expect(envelope.readUInt32BE(4 + KEYRING.length + 4 + 32)).toBe(7);
    });

    it('draws a fresh data key per message, so two encryptions differ', async () => {
      // Prepare
      const { client } = setup();
      const pt = Buffer.from('same plaintext');
      // Act
      const a = await client.encrypt(KEYRING, pt);
      const b = await client.encrypt(KEYRING, pt);
      // Assess
      expect(a.equals(b)).toBe(false);
      expect(a.subarray(4 + 16 + 4, 4 + 16 + 4 + 32).equals(b.subarray(4 + 16 + 4, 4 + 16 + 4 + 32))).toBe(false);
    });

    it('binds the context into the AAD without storing it by default', async () => {
      // Prepare
      const { client } = setup();
      // Act
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'), { context: { tenant: 'acme' } });
      // Assess
      expect(envelope[2]).toBe(0b01);
      expect(envelope.includes(Buffer.from('acme'))).toBe(false);
      expect(inspectEnvelope(envelope).storedContext).toBeUndefined();
    });

    it('stores the canonical context in clear when asked', async () => {
      // Prepare
      const { client } = setup();
      // Act
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'), { context: { b: '2', a: '1' }, storeContext: true });
      // Assess
      expect(envelope[2]).toBe(0b11);
      expect(inspectEnvelope(envelope).storedContext).toEqual({ a: '1', b: '2' });
    });

    it('throws ValidationError for a bad keyring name and calls no provider', async () => {
      // Prepare
      const { client, provider } = setup();
      // Act / Assess
      await expect(client.encrypt('bad name', Buffer.from('x'))).rejects.toThrow(ValidationError);
      await expect(client.encrypt('', Buffer.from('x'))).rejects.toThrow(ValidationError);
      await expect(client.encrypt('é', Buffer.from('x'))).rejects.toThrow(ValidationError);
      await expect(client.encrypt('k'.repeat(65), Buffer.from('x'))).rejects.toThrow(LimitExceededError);
      expect(provider.encryptCalls).toBe(0);
    });

    it('throws LimitExceededError for contexts beyond the limits', async () => {
      // Prepare
      const { client } = setup();
      const tooMany = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v']));
      // Act / Assess
      await expect(client.encrypt(KEYRING, Buffer.from('x'), { context: tooMany })).rejects.toThrow(LimitExceededError);
      await expect(client.encrypt(KEYRING, Buffer.from('x'), { context: { ['k'.repeat(129)]: 'v' } })).rejects.toThrow(LimitExceededError);
      await expect(client.encrypt(KEYRING, Buffer.from('x'), { context: { k: 'v'.repeat(1025) } })).rejects.toThrow(LimitExceededError);
      const big = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`key${i}`, 'v'.repeat(1024)]));
      await expect(client.encrypt(KEYRING, Buffer.from('x'), { context: big })).rejects.toThrow(LimitExceededError);
    });

    it('throws ValidationError for an empty key, a lone surrogate or storeContext without context', async () => {
      // Prepare
      const { client } = setup();
      // Act / Assess
      await expect(client.encrypt(KEYRING, Buffer.from('x'), { context: { '': 'v' } })).rejects.toThrow(ValidationError);
      await expect(client.encrypt(KEYRING, Buffer.from('x'), { context: { k: '\ud800' } })).rejects.toThrow(ValidationError);
      await expect(client.encrypt(KEYRING, Buffer.from('x'), { storeContext: true })).rejects.toThrow(ValidationError);
    });

    it('throws LimitExceededError above the one-shot limit', async () => {
      // Prepare
      const { client, provider } = setup();
      const big = Buffer.alloc(ENVELOPE_LIMITS.oneShotMaxPlaintext + 1);
      // Act / Assess
      await expect(client.encrypt(KEYRING, big)).rejects.toThrow(LimitExceededError);
      expect(provider.encryptCalls).toBe(0);
    });

    it('passes the provider errors through', async () => {
      // Prepare
      const provider = new TestProvider('s', { knownKeyrings: ['other'] });
      const client = new EnvelopeClient(provider);
      // Act / Assess
      await expect(client.encrypt(KEYRING, Buffer.from('x'))).rejects.toThrow(UnknownKeyringError);
    });
  });

  describe('decrypt', () => {
    it('round-trips and reports keyring and version', async () => {
      // Prepare
      const { client, provider } = setup();
      provider.active.set(KEYRING, 3);
      const pt = pseudoRandomBytes(1000, 1);
      const envelope = await client.encrypt(KEYRING, pt);
      // Act
      const out = await client.decrypt(envelope);
      // Assess
      expect(out.plaintext.equals(pt)).toBe(true);
      expect(out.keyring).toBe(KEYRING);
      expect(out.version).toBe(3);
      expect(provider.decryptCalls).toEqual([{ keyring: KEYRING, version: 3, purpose: 'read' }]);
    });

    it('accepts the context in any property order', async () => {
      // Prepare
      const { client } = setup();
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'), { context: { a: '1', b: '2' } });
      // Act
      const out = await client.decrypt(envelope, { context: { b: '2', a: '1' } });
      // Assess
      expect(out.plaintext.toString()).toBe('x');
    });

    it('throws ContextRequiredError when the envelope is bound and no context is given', async () => {
      // Prepare
      const { client, provider } = setup();
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'), { context: { a: '1' } });
      // Act / Assess
      await expect(client.decrypt(envelope)).rejects.toThrow(ContextRequiredError);
      await expect(client.decrypt(envelope, { context: {} })).rejects.toThrow(ContextRequiredError);
      expect(provider.decryptCalls).toHaveLength(0);
    });

    it('throws DecryptError when a bound, unstored context differs', async () => {
      // Prepare
      const { client } = setup();
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'), { context: { a: '1' } });
      // Act / Assess
      await expect(client.decrypt(envelope, { context: { a: '2' } })).rejects.toThrow(new DecryptError());
      await expect(client.decrypt(envelope, { context: { a: '1', b: '' } })).rejects.toThrow(DecryptError);
    });

    it('throws ContextMismatchError when a stored context differs, before fetching any key', async () => {
      // Prepare
      const { client, provider } = setup();
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'), { context: { a: '1' }, storeContext: true });
      // Act / Assess
      await expect(client.decrypt(envelope, { context: { a: '2' } })).rejects.toThrow(ContextMismatchError);
      expect(provider.decryptCalls).toHaveLength(0);
    });

    it('throws DecryptError when a context is given for an envelope that binds none', async () => {
      // Prepare
      const { client } = setup();
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'));
      // Act / Assess
      await expect(client.decrypt(envelope, { context: { a: '1' } })).rejects.toThrow(DecryptError);
    });

    it('passes a revoked-version refusal through, and serves purpose reencrypt', async () => {
      // Prepare
      const { client, provider } = setup();
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'));
      provider.revoked.add(`${KEYRING}#1`);
      // Act / Assess
      await expect(client.decrypt(envelope)).rejects.toThrow(RevokedVersionError);
      expect((await client.decrypt(envelope, { purpose: 'reencrypt' })).plaintext.toString()).toBe('x');
    });

    it('throws DecryptError under the wrong version key', async () => {
      // Prepare
      const { client } = setup();
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'));
      const other = new EnvelopeClient(new TestProvider('another seed'));
      // Act / Assess
      await expect(other.decrypt(envelope)).rejects.toThrow(new DecryptError());
    });

    it('throws ValidationError for a non-Buffer input', async () => {
      // Prepare
      const { client } = setup();
      // Act / Assess
      await expect(client.decrypt('abc' as unknown as Buffer)).rejects.toThrow(ValidationError);
    });

    it('decrypts a framed envelope held in memory', async () => {
      // Prepare
      const { client } = setup();
      const pt = pseudoRandomBytes(5000, 2);
      const envelope = await runTransform(client.encryptStream(KEYRING, { frameSize: 1024 }), [pt]);
      // Act
      const out = await client.decrypt(envelope);
      // Assess
      expect(out.plaintext.equals(pt)).toBe(true);
      expect(inspectEnvelope(envelope)).toMatchObject({ framed: true, frameSize: 1024 });
    });
  });

  describe('rewrap', () => {
    it('re-wraps under the active version, changing only the 44-byte key slot', async () => {
      // Prepare
      const { client, provider } = setup();
      const envelope = await client.encrypt(KEYRING, pseudoRandomBytes(3000, 3), { context: { t: 'a' } });
      provider.active.set(KEYRING, 2);
      const slot = inspectEnvelope(envelope).headerLength - 44;
      // Act
      const rewrapped = await client.rewrap(envelope);
      // Assess
      expect(rewrapped.length).toBe(envelope.length);
      expect(rewrapped.subarray(0, slot).equals(envelope.subarray(0, slot))).toBe(true);
      expect(rewrapped.subarray(slot + 44).equals(envelope.subarray(slot + 44))).toBe(true);
      expect(rewrapped.readUInt32BE(slot)).toBe(2);
      expect(rewrapped.subarray(slot + 4, slot + 44).equals(envelope.subarray(slot + 4, slot + 44))).toBe(false);
      const out = await client.decrypt(rewrapped, { context: { t: 'a' } });
      expect(out.version).toBe(2);
      expect(out.plaintext.equals(pseudoRandomBytes(3000, 3))).toBe(true);
    });

    it('re-wraps to an explicit version (the active one: see rewrap-rules.test.ts)', async () => {
      // Prepare
      const { client, provider } = setup();
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'));
      provider.active.set(KEYRING, 9);
      // Act
      const rewrapped = await client.rewrap(envelope, { toVersion: 9 });
      // Assess
      expect(inspectEnvelope(rewrapped).version).toBe(9);
      expect((await client.decrypt(rewrapped)).plaintext.toString()).toBe('x');
    });

    it('refuses to re-wrap a revoked version, for purpose read and reencrypt alike', async () => {
      // Prepare
      const { client, provider } = setup();
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'));
      provider.revoked.add(`${KEYRING}#1`);
      provider.active.set(KEYRING, 2);
      // Act / Assess
      await expect(client.rewrap(envelope)).rejects.toThrow(RevokedVersionError);
      // Issue 11: a revoked version's data key may be exposed; it is re-encrypted, never re-wrapped.
      await expect(client.rewrap(envelope, { purpose: 'reencrypt' })).rejects.toThrow(RevokedVersionError);
    });

    it('throws DecryptError when the key commitment does not match', async () => {
      // Prepare
      const { client } = setup();
      const a = await client.encrypt(KEYRING, Buffer.from('x'));
      const b = await client.encrypt(KEYRING, Buffer.from('y'));
      const slot = inspectEnvelope(a).headerLength - 44;
      const spliced = Buffer.concat([a.subarray(0, slot), b.subarray(slot, slot + 44), a.subarray(slot + 44)]);
      // Act / Assess
      await expect(client.rewrap(spliced)).rejects.toThrow(new DecryptError());
    });

    it('throws ValidationError for a bad toVersion', async () => {
      // Prepare
      const { client } = setup();
      const envelope = await client.encrypt(KEYRING, Buffer.from('x'));
      // Act / Assess
      await expect(client.rewrap(envelope, { toVersion: 0 })).rejects.toThrow(ValidationError);
      await expect(client.rewrap(envelope, { toVersion: 1.5 })).rejects.toThrow(ValidationError);
    });
  });

  describe('rewrapParts', () => {
    it('returns a new header and the body as a view of the input', async () => {
      // Prepare
      const { client, provider } = setup();
      const envelope = await client.encrypt(KEYRING, pseudoRandomBytes(1 << 20, 4));
      provider.active.set(KEYRING, 5);
      // Act
      const parts = await client.rewrapParts(envelope);
      // Assess
      expect(parts.body.buffer).toBe(envelope.buffer);
      expect(parts.body.byteOffset).toBe(envelope.byteOffset + parts.header.length);
      expect(parts).toMatchObject({ version: 5, previousVersion: 1 });
      const joined = Buffer.concat([parts.header, parts.body]);
      expect((await client.decrypt(joined)).plaintext.equals(pseudoRandomBytes(1 << 20, 4))).toBe(true);
    });
  });

  describe('inspect', () => {
    it('reports the header without any key', async () => {
      // Prepare
      const { client, provider } = setup();
      provider.active.set(KEYRING, 4);
      const envelope = await client.encrypt(KEYRING, Buffer.from('abc'), { context: { t: 'x' } });
      const callsBefore = provider.decryptCalls.length;
      // Act
      const info = client.inspect(envelope);
      // Assess
      expect(info).toEqual({
        formatVersion: 1,
        suite: 'AES-256-GCM/AES-KW/SHA512-KDF-commit/one-shot',
        keyring: KEYRING,
        version: 4,
        originVersion: 4,
        framed: false,
        contextBound: true,
        headerLength: envelope.length - 3 - 16,
        totalLength: envelope.length,
      });
      expect(provider.decryptCalls.length).toBe(callsBefore);
    });
  });

  describe('warm key path', () => {
    /** A TestProvider that also answers synchronously, or declines (undefined) when `warm` is false. */
    class WarmProvider extends TestProvider {
      public warm = true;
      public warmCalls = 0;
      public forEncryptIfWarm(keyring: string): { version: number; key: Buffer } | undefined {
        this.warmCalls += 1;
        return this.warm ? { version: this.active.get(keyring) ?? 1, key: this.keyOf(keyring, this.active.get(keyring) ?? 1) } : undefined;
      }
      public forDecryptIfWarm(keyring: string, version: number): Buffer | undefined {
        this.warmCalls += 1;
        return this.warm ? this.keyOf(keyring, version) : undefined;
      }
    }

    it('encrypts, decrypts and re-wraps with the synchronous answers and no async call', async () => {
      // Prepare
      const provider = new WarmProvider();
      const client = new EnvelopeClient(provider);
      provider.active.set(KEYRING, 2);
      // Act
      const envelope = await client.encrypt(KEYRING, Buffer.from('warm'));
      const out = await client.decrypt(envelope);
      provider.active.set(KEYRING, 3);
      const rewrapped = await client.rewrap(envelope);
      // Assess
      expect(out).toEqual({ plaintext: Buffer.from('warm'), keyring: KEYRING, version: 2 });
      expect(inspectEnvelope(rewrapped).version).toBe(3);
      expect(provider.encryptCalls).toBe(0);
      expect(provider.decryptCalls).toEqual([]);
      expect(provider.warmCalls).toBe(4);
    });

    it('falls back to forEncrypt and forDecrypt when the provider declines', async () => {
      // Prepare
      const provider = new WarmProvider();
      provider.warm = false;
      const client = new EnvelopeClient(provider);
      // Act
      const envelope = await client.encrypt(KEYRING, Buffer.from('cold'));
      const out = await client.decrypt(envelope, { purpose: 'reencrypt' });
      // Assess
      expect(out.plaintext.toString()).toBe('cold');
      expect(provider.encryptCalls).toBe(1);
      expect(provider.decryptCalls).toEqual([{ keyring: KEYRING, version: 1, purpose: 'reencrypt' }]);
    });
  });

  describe('key commitment', () => {
    it('is SHA-512(00000001 || DK || "rekey/v1/" || suite || AH before C || context) bytes 32..63 and K_enc decrypts the payload', async () => {
      // Prepare: recompute everything from the version key with node:crypto directly.
      const { client, provider } = setup();
      const pt = Buffer.from('commitment check');
      const context = Buffer.from('00010001740001' + '78', 'hex'); // { t: 'x' }, canonical
      const envelope = await client.encrypt(KEYRING, pt, { context: { t: 'x' } });
      const ahLength = 4 + KEYRING.length + 4 + 32;
      const vk = provider.keyOf(KEYRING, 1);
      const kw = createDecipheriv('id-aes256-wrap', vk, Buffer.from('a6a6a6a6a6a6a6a6', 'hex'));
      const dk = Buffer.concat([kw.update(envelope.subarray(ahLength + 4, ahLength + 44)), kw.final()]);
      // Act
      const block = createHash('sha512')
        .update(Buffer.from([0, 0, 0, 1]))
        .update(dk)
        .update('rekey/v1/')
        .update(Buffer.from([1]))
        .update(envelope.subarray(0, ahLength - 32))
        .update(context)
        .digest();
      const gcm = createDecipheriv('aes-256-gcm', block.subarray(0, 32), Buffer.alloc(12));
      gcm.setAAD(Buffer.concat([envelope.subarray(0, ahLength), context]));
      gcm.setAuthTag(envelope.subarray(envelope.length - 16));
      const out = Buffer.concat([gcm.update(envelope.subarray(ahLength + 44, envelope.length - 16)), gcm.final()]);
      // Assess
      expect(block.subarray(32).equals(envelope.subarray(ahLength - 32, ahLength))).toBe(true);
      expect(out.equals(pt)).toBe(true);
    });
  });
});
