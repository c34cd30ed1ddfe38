/**
 * Generates the envelope v1 known-answer vectors (test/vectors/envelope-v1.json) with a fixed
 * version key and injected data keys. Run once; the JSON is committed and replayed by
 * test/vectors/envelope-vectors.test.ts.
 *
 *   npx ts-node --transpile-only test/vectors/generate.ts
 */
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { EnvelopeClient } from '../../shared/envelope';
import type { CallerContext, VersionKeyProvider } from '../../shared/envelope';
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
}

const CASES: Case[] = [
  { name: 'one-shot, empty plaintext, no context', keyring: 'payments-service', version: 1, plaintextLength: 0 },
  { name: 'one-shot, 64 bytes, no context', keyring: 'payments-service', version: 7, plaintextLength: 64 },
  { name: 'one-shot, bound context', keyring: 'k', version: 2, plaintextLength: 33, context: { tenant: 'acme', record: 'r-1' } },
  { name: 'one-shot, stored context (UTF-8)', keyring: 'orders.v2_eu-west', version: 4294967295, plaintextLength: 100, context: { région: 'Zürich', a: '' }, storeContext: true },
  { name: 'framed, 2500 bytes in 1024-byte frames', keyring: 'backups', version: 3, plaintextLength: 2500, frameSize: 1024 },
  { name: 'framed, exact multiple: empty final frame', keyring: 'backups', version: 3, plaintextLength: 2048, frameSize: 1024 },
  { name: 'framed, empty plaintext, stored context', keyring: 'backups', version: 3, plaintextLength: 0, frameSize: 4096, context: { f: 'x' }, storeContext: true },
];

async function build(): Promise<object> {
  const vk = Buffer.from(VERSION_KEY_HEX, 'hex');
  const positive: Array<{ keyring: string; version: number; envelope: string } & Record<string, unknown>> = [];
  for (const [i, c] of CASES.entries()) {
    const provider: VersionKeyProvider = {
      forEncrypt: async () => ({ version: c.version, key: vk }),
      forDecrypt: async () => vk,
    };
    const dk = dataKey(i);
    const client = new EnvelopeClient(provider, { [DATA_KEY_SOURCE]: () => Buffer.from(dk) } as object);
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
    positive.push({
      name: c.name,
      keyring: c.keyring,
      version: c.version,
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
  const ahEnd = 4 + 16 + 32;
  const mutate = (buf: Buffer, f: (b: Buffer) => Buffer | void): Buffer => {
    const copy = Buffer.from(buf);
    return f(copy) ?? copy;
  };
  const framedHeader = 4 + 7 + 4 + 32 + 44;
  const negative = [
    { name: 'format version 2', envelope: mutate(base, (b) => void (b[0] = 2)) },
    { name: 'unknown suite 3', envelope: mutate(base, (b) => void (b[1] = 3)) },
    { name: 'reserved flag bit 2 set', envelope: mutate(base, (b) => void (b[2] = 4)) },
    { name: 'stored flag without bound flag', envelope: mutate(base, (b) => void (b[2] = 2)) },
    { name: 'keyring length 0', envelope: mutate(base, (b) => void (b[3] = 0)) },
    { name: 'keyring with a space', envelope: mutate(base, (b) => void (b[5] = 0x20)) },
    { name: 'commitment bit flipped', envelope: mutate(base, (b) => void (b[ahEnd - 1]! ^= 1)) },
    { name: 'key version 0', envelope: mutate(base, (b) => void b.writeUInt32BE(0, ahEnd)) },
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
  return {
    description: 'rekey envelope format v1 known-answer vectors (docs/envelope-format.md). Decrypt each positive vector with versionKey as the key of (keyring, version); every negative vector must fail with DecryptError when versionKey is the key of exactly its (keyring, version) and every other version has another key.',
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
