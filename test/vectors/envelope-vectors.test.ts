import { createDecipheriv, createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { ENVELOPE_LIMITS, EnvelopeClient, inspectEnvelope } from '../../shared/envelope';
import type { CallerContext, VersionKeyProvider } from '../../shared/envelope';
import { deriveKeys, unwrapDataKey, wrapDataKey } from '../../shared/envelope/envelope-crypto';
import { DATA_KEY_SOURCE } from '../../shared/envelope/internal-seams';
import { DecryptError } from '../../shared/errors';

interface PositiveVector {
  name: string;
  keyring: string;
  version: number;
  originVersion: number;
  frameSize?: number;
  context?: CallerContext;
  storeContext: boolean;
  dataKey: string;
  plaintext: string;
  envelope: string;
}
interface Vectors {
  versionKey: string;
  positive: PositiveVector[];
  negative: Array<{ name: string; keyring: string; version: number; envelope: string; error: string; context?: CallerContext }>;
}

const vectors = JSON.parse(readFileSync(path.join(__dirname, 'envelope-v1.json'), 'utf8')) as Vectors;
const vk = Buffer.from(vectors.versionKey, 'hex');

function fixedProvider(version: number, requests: Array<[string, number]> = []): VersionKeyProvider {
  return {
    forEncrypt: async () => ({ version, key: vk }),
    forDecrypt: async (keyring, v) => {
      requests.push([keyring, v]);
      return vk;
    },
  };
}

/** Canonical context encoding written out from the spec, independent of the implementation. */
function specContext(ctx: CallerContext): Buffer {
  const pairs = Object.entries(ctx).map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const).sort((a, b) => Buffer.compare(a[0], b[0]));
  const parts: Buffer[] = [Buffer.from([0, pairs.length])];
  for (const [k, v] of pairs) parts.push(Buffer.from([k.length >> 8, k.length & 255]), k, Buffer.from([v.length >> 8, v.length & 255]), v);
  return Buffer.concat(parts);
}

/** The one-step KDF of the spec: SHA-512(counter 1 || DK || "rekey/v1/" || suite || AH' || context). */
function specKdf(dk: Buffer, suite: number, headerPrefix: Buffer, context: Buffer | undefined): Buffer {
  const h = createHash('sha512').update(Buffer.from([0, 0, 0, 1])).update(dk).update(Buffer.from('rekey/v1/', 'ascii')).update(Buffer.from([suite])).update(headerPrefix);
  if (context !== undefined) h.update(context);
  return h.digest();
}

/** Decrypts a vector by reading docs/envelope-format.md literally, with node:crypto only. */
function specDecrypt(env: Buffer, ctx: CallerContext | undefined): { plaintext: Buffer; originVersion: number; version: number } {
  const suite = env[1]!;
  const flags = env[2]!;
  let off = 4 + env[3]!;
  let frameSize = 0;
  if (suite === 2) {
    frameSize = env.readUInt32BE(off);
    off += 4;
  }
  if (flags & 2) off += 2 + env.readUInt16BE(off);
  const originVersion = env.readUInt32BE(off);
  off += 4;
  const headerPrefix = env.subarray(0, off);
  const commitment = env.subarray(off, off + 32);
  const ah = env.subarray(0, off + 32);
  off += 32;
  const version = env.readUInt32BE(off);
  expect(originVersion).toBeGreaterThanOrEqual(1);
  expect(originVersion).toBeLessThanOrEqual(version);
  off += 4;
  const kw = createDecipheriv('id-aes256-wrap', vk, Buffer.from('a6a6a6a6a6a6a6a6', 'hex'));
  const dk = Buffer.concat([kw.update(env.subarray(off, off + 40)), kw.final()]);
  off += 40;
  const context = flags & 1 ? specContext(ctx!) : undefined;
  const block = specKdf(dk, suite, headerPrefix, context);
  expect(block.subarray(32).equals(commitment)).toBe(true);
  const aad = context === undefined ? ah : Buffer.concat([ah, context]);
  const gcm = (nonce: Buffer, ct: Buffer, tag: Buffer, extraAad?: Buffer): Buffer => {
    const d = createDecipheriv('aes-256-gcm', block.subarray(0, 32), nonce);
    d.setAAD(extraAad === undefined ? aad : Buffer.concat([aad, extraAad]));
    d.setAuthTag(tag);
    return Buffer.concat([d.update(ct), d.final()]);
  };
  if (suite === 1) return { plaintext: gcm(Buffer.alloc(12), env.subarray(off, env.length - 16), env.subarray(env.length - 16)), originVersion, version };
  const out: Buffer[] = [];
  for (let i = 0; ; i += 1) {
    const nonce = Buffer.alloc(12);
    nonce.writeUInt32BE(i, 4);
    if (env.length - off >= frameSize + 16 + 20) {
      out.push(gcm(nonce, env.subarray(off, off + frameSize), env.subarray(off + frameSize, off + frameSize + 16)));
      off += frameSize + 16;
    } else {
      const n = env.readUInt32BE(off);
      nonce.writeUInt32BE(1, 8);
      out.push(gcm(nonce, env.subarray(off + 4, off + 4 + n), env.subarray(off + 4 + n, off + 20 + n), env.subarray(off, off + 4)));
      expect(off + 20 + n).toBe(env.length);
      return { plaintext: Buffer.concat(out), originVersion, version };
    }
  }
}

describe('envelope format v1 vectors', () => {
  describe('positive vectors', () => {
    it.each(vectors.positive.map((v) => [v.name, v] as const))('decrypts "%s" to its plaintext', async (_name, v) => {
      // Prepare
      const requests: Array<[string, number]> = [];
      const client = new EnvelopeClient(fixedProvider(v.version, requests));
      const envelope = Buffer.from(v.envelope, 'hex');
      // Act
      const out = await client.decrypt(envelope, { context: v.context });
      // Assess
      expect(out.plaintext.toString('hex')).toBe(v.plaintext);
      expect(requests).toEqual([[v.keyring, v.version]]);
      expect(inspectEnvelope(envelope)).toMatchObject({
        keyring: v.keyring,
        version: v.version,
        originVersion: v.originVersion,
        framed: v.frameSize !== undefined,
        contextBound: v.context !== undefined,
      });
    });

    it.each(vectors.positive.map((v) => [v.name, v] as const))('decrypts "%s" by the spec alone', (_name, v) => {
      // Act
      const out = specDecrypt(Buffer.from(v.envelope, 'hex'), v.context);
      // Assess
      expect(out.plaintext.toString('hex')).toBe(v.plaintext);
      expect([out.originVersion, out.version]).toEqual([v.originVersion, v.version]);
    });

    it.each(vectors.positive.map((v) => [v.name, v] as const))('re-encrypts "%s" to the same bytes with the same data key', async (_name, v) => {
      // Prepare
      const dk = Buffer.from(v.dataKey, 'hex');
      // A re-wrapped vector: encrypted under its origin version, then re-wrapped header-only.
      const client = new EnvelopeClient(fixedProvider(v.originVersion), { [DATA_KEY_SOURCE]: () => Buffer.from(dk) } as object);
      const pt = Buffer.from(v.plaintext, 'hex');
      const opts = { context: v.context, storeContext: v.storeContext };
      // Act
      let envelope: Buffer;
      if (v.frameSize === undefined) envelope = await client.encrypt(v.keyring, pt, opts);
      else {
        const chunks: Buffer[] = [];
        for await (const c of Readable.from([pt]).pipe(client.encryptStream(v.keyring, { ...opts, frameSize: v.frameSize }))) chunks.push(c as Buffer);
        envelope = Buffer.concat(chunks);
      }
      if (v.originVersion !== v.version) envelope = await new EnvelopeClient(fixedProvider(v.version)).rewrap(envelope);
      // Assess
      expect(envelope.toString('hex')).toBe(v.envelope);
    });
  });

  describe('negative vectors', () => {
    it.each(vectors.negative.map((v) => [v.name, v] as const))('rejects "%s" with DecryptError', async (_name, v) => {
      // Prepare: the vector key belongs to exactly (keyring, version); other versions have other keys
      const client = new EnvelopeClient({
        forEncrypt: async () => ({ version: v.version, key: vk }),
        forDecrypt: async (keyring, version) => (keyring === v.keyring && version === v.version ? vk : createHmac('sha256', vk).update(`${keyring}#${version}`).digest()),
      });
      // Act / Assess
      await expect(client.decrypt(Buffer.from(v.envelope, 'hex'), { context: v.context })).rejects.toThrow(new DecryptError());
    });

    it('holds a colliding context that the GCM tag alone cannot tell apart: only the commitment refuses it', () => {
      // Prepare: the vector's envelope, its true context A and its data key
      const forged = vectors.negative.find((v) => v.context !== undefined)!;
      const source = vectors.positive.find((v) => v.envelope === forged.envelope)!;
      const env = Buffer.from(forged.envelope, 'hex');
      const ahLength = env.length - 44 - 16 - source.plaintext.length / 2;
      const dk = Buffer.from(source.dataKey, 'hex');
      const a = specContext(source.context!);
      const b = specContext(forged.context!);
      const kA = specKdf(dk, 1, env.subarray(0, ahLength - 32), a);
      const kB = specKdf(dk, 1, env.subarray(0, ahLength - 32), b);
      const opens = (aad: Buffer): boolean => {
        const d = createDecipheriv('aes-256-gcm', kA.subarray(0, 32), Buffer.alloc(12));
        d.setAAD(aad);
        d.setAuthTag(env.subarray(env.length - 16));
        d.update(env.subarray(ahLength + 44, env.length - 16));
        try {
          d.final();
          return true;
        } catch {
          return false;
        }
      };
      // Act
      const tagAcceptsB = opens(Buffer.concat([env.subarray(0, ahLength), b]));
      // Assess: B differs from A, yet GCM under the key of A accepts the tag with B as AAD,
      // which is what a reader deriving the key from the data key alone would have done; the
      // commitment derived with B differs from the stored one.
      expect(a.equals(b)).toBe(false);
      expect(a.length).toBe(b.length);
      expect(tagAcceptsB).toBe(true);
      expect(kB.subarray(32).equals(env.subarray(ahLength - 32, ahLength))).toBe(false);
      expect(kA.subarray(32).equals(env.subarray(ahLength - 32, ahLength))).toBe(true);
    });
  });

  describe('AES-256-KW', () => {
    it('matches RFC 3394 section 4.6 (256-bit key data with a 256-bit KEK)', () => {
      // Prepare
      const kek = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
      const keyData = Buffer.from('00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f', 'hex');
      // Act
      const wrapped = wrapDataKey(kek, keyData);
      // Assess
      expect(wrapped.toString('hex')).toBe('28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21');
      expect(unwrapDataKey(kek, wrapped).equals(keyData)).toBe(true);
    });

    it('rejects a tampered wrap in unwrapDataKey itself, before any commitment check', () => {
      // Prepare: the RFC 3394 section 4.6 wrap with one bit flipped in each of its five blocks
      const kek = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
      const wrapped = Buffer.from('28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21', 'hex');
      const tampered = [0, 8, 16, 24, 32].map((byte) => {
        const copy = Buffer.from(wrapped);
        copy[byte]! ^= 1;
        return copy;
      });
      // Act / Assess
      for (const t of tampered) expect(() => unwrapDataKey(kek, t)).toThrow(new DecryptError());
      expect(() => unwrapDataKey(Buffer.alloc(32, 7), wrapped)).toThrow(new DecryptError());
    });
  });

  describe('key derivation (SP 800-56C one-step, SHA-512)', () => {
    const prefixOf = (v: PositiveVector): Buffer => {
      const env = Buffer.from(v.envelope, 'hex');
      return env.subarray(0, inspectEnvelope(env).headerLength - 44 - 32);
    };
    const contextOf = (v: PositiveVector): Buffer | undefined => (v.context === undefined ? undefined : specContext(v.context));

    it('matches SHA-512(counter 1 || DK || "rekey/v1/" || suite || AH\' || context) for both suites and every vector', () => {
      // Act
      const derived = vectors.positive.flatMap((v) => {
        const dk = Buffer.from(v.dataKey, 'hex');
        return [1, 2].map((suite) => [deriveKeys(dk, suite, prefixOf(v), contextOf(v)), specKdf(dk, suite, prefixOf(v), contextOf(v))] as const);
      });
      // Assess
      expect(derived).toHaveLength(2 * vectors.positive.length);
      expect(derived.every(([got, want]) => got.equals(want))).toBe(true);
    });

    it('separates the suites: the same data key yields unrelated blocks', () => {
      // Prepare
      const v = vectors.positive[0]!;
      const dk = Buffer.from(v.dataKey, 'hex');
      // Act
      const oneShot = deriveKeys(dk, 1, prefixOf(v), undefined);
      const framed = deriveKeys(dk, 2, prefixOf(v), undefined);
      // Assess
      expect(oneShot.subarray(0, 32).equals(framed.subarray(0, 32))).toBe(false);
      expect(oneShot.subarray(32).equals(framed.subarray(32))).toBe(false);
    });

    it('commits to the header prefix and the context: one changed byte or an added empty context changes K_enc and C', () => {
      // Prepare
      const v = vectors.positive[2]!;
      const dk = Buffer.from(v.dataKey, 'hex');
      const prefix = prefixOf(v);
      const context = contextOf(v)!;
      const otherPrefix = Buffer.from(prefix);
      otherPrefix[otherPrefix.length - 1]! ^= 1; // the origin version's last byte
      const otherContext = Buffer.from(context);
      otherContext[otherContext.length - 1]! ^= 1;
      // Act
      const base = deriveKeys(dk, 1, prefix, context);
      const variants = [deriveKeys(dk, 1, otherPrefix, context), deriveKeys(dk, 1, prefix, otherContext), deriveKeys(dk, 1, prefix, undefined), deriveKeys(dk, 1, prefix, Buffer.from([0, 0]))];
      // Assess
      for (const w of variants) {
        expect(w.subarray(0, 32).equals(base.subarray(0, 32))).toBe(false);
        expect(w.subarray(32).equals(base.subarray(32))).toBe(false);
      }
    });

    it('carries nothing from one derivation into the next and leaves the data key untouched', () => {
      // Prepare
      const [va, vb] = [vectors.positive[3]!, vectors.positive[1]!];
      const a = Buffer.from(va.dataKey, 'hex');
      const b = Buffer.from(vb.dataKey, 'hex');
      const aCopy = Buffer.from(a);
      // Act: a long input (stored context) then a short one must not see the long one's tail
      const first = deriveKeys(a, 1, prefixOf(va), contextOf(va));
      const short = deriveKeys(b, 1, prefixOf(vb), undefined);
      const again = deriveKeys(a, 1, prefixOf(va), contextOf(va));
      // Assess
      expect(again.equals(first)).toBe(true);
      expect(short.equals(specKdf(b, 1, prefixOf(vb), undefined))).toBe(true);
      expect(a.equals(aCopy)).toBe(true);
    });

    it('refuses an unknown suite, a data key of the wrong length and an oversized input with DecryptError', () => {
      // Prepare
      const v = vectors.positive[0]!;
      const dk = Buffer.from(v.dataKey, 'hex');
      // Act / Assess
      expect(() => deriveKeys(dk, 3, prefixOf(v), undefined)).toThrow(DecryptError);
      expect(() => deriveKeys(dk.subarray(0, 31), 1, prefixOf(v), undefined)).toThrow(DecryptError);
      expect(() => deriveKeys(dk, 1, Buffer.alloc(ENVELOPE_LIMITS.headerMaxLength), undefined)).toThrow(DecryptError);
      expect(() => deriveKeys(dk, 1, prefixOf(v), Buffer.alloc(ENVELOPE_LIMITS.contextMaxEncodedBytes + 1))).toThrow(DecryptError);
    });
  });
});
