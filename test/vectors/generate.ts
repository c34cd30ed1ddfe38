/**
 * Generates the envelope v1 known-answer vectors (test/vectors/envelope-v1.json) with a fixed
 * version key and injected data keys. Run once; the JSON is committed and replayed by
 * test/vectors/envelope-vectors.test.ts.
 *
 *   npx ts-node --transpile-only test/vectors/generate.ts
 */
import { createCipheriv, createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { EnvelopeClient } from '../../shared/envelope';
import type { CallerContext, VersionKeyProvider } from '../../shared/envelope';
import { encodeContext } from '../../shared/envelope/context-encoding';
import { deriveKeys } from '../../shared/envelope/envelope-crypto';
import { DATA_KEY_SOURCE } from '../../shared/envelope/internal-seams';

/** Fixed inputs: bytes 0x00..0x1f for the version key, a counter-derived data key per vector. */
const VERSION_KEY_HEX = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';

function dataKey(n: number): Buffer {
  return createHmac('sha256', 'rekey vector data key').update(String(n)).digest();
}

function plaintext(length: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => (i * 31 + 7) & 0xff));
}

interface Case {
  readonly name: string;
  readonly keyring: string;
  readonly version: number;
  readonly plaintextLength: number;
  readonly context?: CallerContext;
  readonly storeContext?: boolean;
  readonly frameSize?: number;
  /** Encrypt under this version, then re-wrap header-only to `version` (origin stays here). */
  readonly rewrappedFrom?: number;
}

/** The long context value of the context-collision vector: two whole AAD blocks inside it. */
const LONG_VALUE = 'record r-1 of tenant acme, written by the nightly import job #42';

const CASES: Case[] = [
  { name: 'one-shot, empty plaintext, no context', keyring: 'payments-service', version: 1, plaintextLength: 0 },
  { name: 'one-shot, 64 bytes, no context', keyring: 'payments-service', version: 7, plaintextLength: 64 },
  { name: 'one-shot, bound context', keyring: 'k', version: 2, plaintextLength: 33, context: { tenant: 'acme', record: 'r-1' } },
  { name: 'one-shot, stored context (UTF-8)', keyring: 'orders.v2_eu-west', version: 4294967295, plaintextLength: 100, context: { région: 'Zürich', a: '' }, storeContext: true },
  { name: 'framed, 2500 bytes in 1024-byte frames', keyring: 'backups', version: 3, plaintextLength: 2500, frameSize: 1024 },
  { name: 'framed, exact multiple: empty final frame', keyring: 'backups', version: 3, plaintextLength: 2048, frameSize: 1024 },
  { name: 'framed, empty plaintext, stored context', keyring: 'backups', version: 3, plaintextLength: 0, frameSize: 4096, context: { f: 'x' }, storeContext: true },
  { name: 'one-shot, re-wrapped header-only from version 2 to 5 (origin version 2)', keyring: 'payments-service', version: 5, rewrappedFrom: 2, plaintextLength: 40 },
  { name: 'framed, bound context, re-wrapped from version 1 to 9 (origin version 1)', keyring: 'backups', version: 9, rewrappedFrom: 1, plaintextLength: 1500, frameSize: 1024, context: { tenant: 'acme' } },
  { name: 'one-shot, bound context with a long value', keyring: 'payments-service', version: 6, plaintextLength: 48, context: { note: LONG_VALUE, tenant: 'acme' } },
];

// GF(2^128) multiplication in GCM's bit order (NIST SP 800-38D, algorithm 1), on BigInts whose
// most significant bit is the first bit of the block.
const GCM_R = 0xe1n << 120n;
function gfMul(x: bigint, y: bigint): bigint {
  let z = 0n;
  let v = y;
  for (let i = 127n; i >= 0n; i -= 1n) {
    if ((x >> i) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ GCM_R : v >> 1n;
  }
  return z;
}
const toBig = (b: Buffer): bigint => BigInt(`0x${b.toString('hex')}`);
const toBlock = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(32, '0'), 'hex');

/**
 * The context-commitment vector. Whoever knows a data key knows its GCM key K and hash key H,
 * and GHASH is linear: changing AAD block j by D and block j+1 by D*H leaves the tag as it is.
 * Here two blocks inside the context value of an envelope are changed that way (searched until
 * both stay ASCII, so the result is a well-formed context), giving a context B != A under which
 * the untouched envelope's GCM tag still verifies with K. Were K derived from the data key
 * alone (this format before the commitment covered the context), the envelope would decrypt
 * with B; now K and C depend on the context, and the commitment check refuses B.
 */
function collidingContext(envelope: Buffer, dk: Buffer, context: CallerContext): CallerContext {
  const ahLength = envelope.length - 48 - 44 - 16; // one-shot, 48-byte plaintext
  const prefix = envelope.subarray(0, ahLength - 32);
  const encoded = encodeContext(context);
  const kEnc = deriveKeys(Buffer.from(dk), envelope[1] as number, prefix, encoded).subarray(0, 32);
  const h = toBig(createCipheriv('aes-256-ecb', kEnc, null).setAutoPadding(false).update(Buffer.alloc(16)));
  // The value of "note" starts at AAD offset ahLength + 2 + 2 + 4 + 2; take the first two whole
  // AAD blocks after it.
  const valueStart = ahLength + 10;
  const j = Math.ceil(valueStart / 16);
  const aad = Buffer.concat([envelope.subarray(0, ahLength), encoded]);
  const x0 = aad.subarray(j * 16, j * 16 + 16);
  const x1 = aad.subarray(j * 16 + 16, j * 16 + 32);
  if ((j + 2) * 16 > valueStart + LONG_VALUE.length) throw new Error('the long value does not cover two AAD blocks');
  for (let n = 0; ; n += 1) {
    const candidate = createHmac('sha256', 'rekey collision').update(String(n)).digest().subarray(0, 16).map((b) => b & 0x7f);
    const d0 = toBig(Buffer.from(candidate)) ^ toBig(x0);
    const y1 = toBlock(toBig(x1) ^ gfMul(d0, h));
    if (y1.every((b) => b < 0x80)) {
      const forged = Buffer.from(aad);
      Buffer.from(candidate).copy(forged, j * 16);
      y1.copy(forged, j * 16 + 16);
      const note = forged.toString('latin1', valueStart, valueStart + LONG_VALUE.length);
      return { note, tenant: context.tenant as string };
    }
  }
}

async function build(): Promise<object> {
  const vk = Buffer.from(VERSION_KEY_HEX, 'hex');
  const positive: Array<{ keyring: string; version: number; envelope: string } & Record<string, unknown>> = [];
  for (const [i, c] of CASES.entries()) {
    const provider: VersionKeyProvider = {
      forEncrypt: async () => ({ version: c.version, key: vk }),
      forDecrypt: async () => vk,
    };
    const dk = dataKey(i);
    const encryptProvider: VersionKeyProvider = { ...provider, forEncrypt: async () => ({ version: c.rewrappedFrom ?? c.version, key: vk }) };
    const client = new EnvelopeClient(encryptProvider, { [DATA_KEY_SOURCE]: () => Buffer.from(dk) } as object);
    const pt = plaintext(c.plaintextLength);
    const opts = { ...(c.context === undefined ? {} : { context: c.context }), ...(c.storeContext === true ? { storeContext: true } : {}) };
    let envelope: Buffer;
    if (c.frameSize === undefined) {
      envelope = await client.encrypt(c.keyring, pt, opts);
    } else {
      const out: Buffer[] = [];
      const stream = Readable.from([pt]).pipe(client.encryptStream(c.keyring, { ...opts, frameSize: c.frameSize }));
      for await (const chunk of stream) out.push(chunk as Buffer);
      envelope = Buffer.concat(out);
    }
    if (c.rewrappedFrom !== undefined) envelope = await new EnvelopeClient(provider).rewrap(envelope);
    positive.push({
      name: c.name,
      keyring: c.keyring,
      version: c.version,
      originVersion: c.rewrappedFrom ?? c.version,
      ...(c.frameSize === undefined ? {} : { frameSize: c.frameSize }),
      ...(c.context === undefined ? {} : { context: c.context }),
      storeContext: c.storeContext === true,
      dataKey: dk.toString('hex'),
      plaintext: pt.toString('hex'),
      envelope: envelope.toString('hex'),
    });
  }
  const base = Buffer.from((positive[1] as { envelope: string }).envelope, 'hex');
  const framed = Buffer.from((positive[4] as { envelope: string }).envelope, 'hex');
  const origin = 4 + 16;
  const ahEnd = origin + 4 + 32;
  const mutate = (buf: Buffer, f: (b: Buffer) => Buffer | void): Buffer => {
    const copy = Buffer.from(buf);
    return f(copy) ?? copy;
  };
  const framedHeader = 4 + 7 + 4 + 4 + 32 + 44;
  const long = positive[9] as unknown as { envelope: string; dataKey: string; context: CallerContext };
  const longEnvelope = Buffer.from(long.envelope, 'hex');
  const collision = collidingContext(longEnvelope, Buffer.from(long.dataKey, 'hex'), long.context);
  const negative = [
    { name: 'format version 2', envelope: mutate(base, (b) => void (b[0] = 2)) },
    { name: 'unknown suite 3', envelope: mutate(base, (b) => void (b[1] = 3)) },
    { name: 'reserved flag bit 2 set', envelope: mutate(base, (b) => void (b[2] = 4)) },
    { name: 'stored flag without bound flag', envelope: mutate(base, (b) => void (b[2] = 2)) },
    { name: 'keyring length 0', envelope: mutate(base, (b) => void (b[3] = 0)) },
    { name: 'keyring with a space', envelope: mutate(base, (b) => void (b[5] = 0x20)) },
    { name: 'commitment bit flipped', envelope: mutate(base, (b) => void (b[ahEnd - 1]! ^= 1)) },
    { name: 'key version 0', envelope: mutate(base, (b) => void b.writeUInt32BE(0, ahEnd)) },
    { name: 'origin version 0', envelope: mutate(base, (b) => void b.writeUInt32BE(0, origin)) },
    { name: 'origin version above the key version', envelope: mutate(base, (b) => void b.writeUInt32BE(8, origin)) },
    { name: 'origin version changed 7 -> 6 (authenticated: the commitment fails)', envelope: mutate(base, (b) => void b.writeUInt32BE(6, origin)) },
    { name: 'key version lowered below the origin version', envelope: mutate(base, (b) => void b.writeUInt32BE(6, ahEnd)) },
    { name: 'key version changed (other key, AES-KW integrity fails)', envelope: mutate(base, (b) => void b.writeUInt32BE(8, ahEnd)) },
    { name: 'wrapped data key bit flipped', envelope: mutate(base, (b) => void (b[ahEnd + 10]! ^= 0x80)) },
    { name: 'payload bit flipped', envelope: mutate(base, (b) => void (b[ahEnd + 44]! ^= 1)) },
    { name: 'tag bit flipped', envelope: mutate(base, (b) => void (b[b.length - 1]! ^= 1)) },
    { name: 'one-shot truncated by one byte', envelope: base.subarray(0, base.length - 1) },
    { name: 'one-shot body shorter than a tag', envelope: base.subarray(0, ahEnd + 44 + 15) },
    { name: 'frame size below 1 KiB', envelope: mutate(framed, (b) => void b.writeUInt32BE(1023, 4 + 7)) },
    { name: 'frame size above 4 MiB', envelope: mutate(framed, (b) => void b.writeUInt32BE(4 * 1024 * 1024 + 1, 4 + 7)) },
    { name: 'framed: final frame dropped', envelope: framed.subarray(0, framedHeader + 2 * 1040) },
    { name: 'framed: frames 0 and 1 swapped', envelope: Buffer.concat([framed.subarray(0, framedHeader), framed.subarray(framedHeader + 1040, framedHeader + 2080), framed.subarray(framedHeader, framedHeader + 1040), framed.subarray(framedHeader + 2080)]) },
    { name: 'framed: final length prefix changed', envelope: mutate(framed, (b) => void b.writeUInt32BE(451, framedHeader + 2080)) },
    { name: 'framed: byte appended after the final frame', envelope: Buffer.concat([framed, Buffer.from([0])]) },
    { name: 'framed: suite byte switched to one-shot', envelope: mutate(framed, (b) => void (b[1] = 1)) },
  ].map((v) => {
    const source = v.envelope[1] === 2 || v.name.startsWith('framed') ? positive[4] : positive[1];
    return { name: v.name, keyring: source?.keyring, version: source?.version, envelope: v.envelope.toString('hex'), error: 'DecryptError' };
  });
  negative.push({
    name: 'context swapped for a colliding one (same data key, same GCM tag; the commitment fails)',
    keyring: 'payments-service',
    version: 6,
    envelope: longEnvelope.toString('hex'),
    error: 'DecryptError',
    context: collision,
  } as (typeof negative)[number]);
  return {
    description: 'rekey envelope format v1 known-answer vectors (docs/envelope-format.md). Decrypt each positive vector with versionKey as the key of (keyring, version); every negative vector must fail with DecryptError when versionKey is the key of exactly its (keyring, version) and every other version has another key (and the vector\'s context, if any, is supplied).',
    versionKey: VERSION_KEY_HEX,
    positive,
    negative,
  };
}

async function main(): Promise<void> {
  const vectors = await build();
  const file = path.join(__dirname, 'envelope-v1.json');
  writeFileSync(file, `${JSON.stringify(vectors, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

void main();
