/**
 * Envelope benchmark (issue 2): rekey against raw node:crypto AES-256-GCM (the physical limit
 * on this machine) and the AWS Encryption SDK for JavaScript (committed non-signing suite, raw
 * AES keyring), encrypt and decrypt at 64 B, 1 KiB, 64 KiB and 1 MiB, bytes of overhead, and
 * re-wrap at 1 KiB and 1 MiB. rekey runs its real path: CatalogKeyProvider over a SQLite
 * catalog and the local key vault, with the version-key cache warm (as in a running service).
 *
 * Raw GCM is measured twice, with the key as a Buffer and as a KeyObject (which runtime makes
 * which faster differs: Node 24 builds ciphers from Buffers about 12 µs slower), and the targets
 * are judged against the faster of the two. Because the machine is shared, 1 KiB is measured a
 * second way too: many short interleaved slices, each rekey slice paired with the raw slice
 * next to it, reported as the median of the per-pair ratios.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { loadavg } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AlgorithmSuiteIdentifier,
  CommitmentPolicy,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
  buildClient,
} from '@aws-crypto/client-node';
import { EnvelopeClient } from '../shared/envelope';
import { CatalogKeyProvider } from '../shared/keys';
import { KeyringService } from '../shared/catalog';
import { FileKeyVault } from '../shared/adapters/local/file-key-vault';
import { SqliteCatalogStore } from '../shared/adapters/local/sqlite-catalog-store';
import { measureOps, printTable, writeResult } from './lib/measure';
import { runEnvelopeKdfBench, type EnvelopeKdfBenchResult } from './envelope-kdf';

const SIZES: ReadonlyArray<[string, number]> = [
  ['64 B', 64],
  ['1 KiB', 1024],
  ['64 KiB', 64 * 1024],
  ['1 MiB', 1024 * 1024],
];

/** Raw AES-256-GCM with a random 96-bit IV per message: output IV || ciphertext || tag. */
function rawEncrypt(key: Buffer | KeyObject, pt: Buffer): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const out = Buffer.allocUnsafe(12 + pt.length + 16);
  iv.copy(out, 0);
  c.update(pt).copy(out, 12);
  c.final();
  c.getAuthTag().copy(out, 12 + pt.length);
  return out;
}

function rawDecrypt(key: Buffer | KeyObject, ct: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, ct.subarray(0, 12));
  d.setAuthTag(ct.subarray(ct.length - 16));
  const pt = d.update(ct.subarray(12, ct.length - 16));
  d.final();
  return pt;
}

/** Result of the envelope benchmark. */
export interface EnvelopeBenchResult {
  readonly rows: ReadonlyArray<Record<string, string | number>>;
  readonly rewrap: Record<string, number>;
  readonly overheadBytes: Record<string, number>;
  readonly targets: ReadonlyArray<{ target: string; measured: string; met: boolean }>;
  /** 1 KiB rekey/raw ratios from paired short interleaved slices (median and quartiles). */
  readonly slices1KiB: Record<string, number>;
  /** The same at 1 MiB (fewer operations per slice). */
  readonly slices1MiB: Record<string, number>;
  /** os.loadavg() (1, 5, 15 min) when the run started and ended: figures from a loaded machine are noisier. */
  readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] };
  /** The key derivation against the one it replaced (issue 11), see bench/envelope-kdf.ts. */
  readonly kdf: EnvelopeKdfBenchResult;
}

async function timeSlice(op: () => unknown, ops: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < ops; i += 1) {
    const r = op();
    if (r instanceof Promise) await r;
  }
  return Number(process.hrtime.bigint() - start) / ops;
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

/**
 * rekey/raw throughput ratio from `pairs` pairs of short slices run back to back (the order
 * alternates), so that a burst of load from another process hits both sides of a pair alike.
 */
async function pairedRatio(rekeyOp: () => unknown, rawOps: ReadonlyArray<() => unknown>, pairs: number, ops: number): Promise<{ median: number; p25: number; p75: number }> {
  const ratios: number[] = [];
  for (let i = 0; i < pairs; i += 1) {
    const raw = rawOps[i % rawOps.length] as () => unknown;
    const first = i % 2 === 0;
    const a = await timeSlice(first ? rekeyOp : raw, ops);
    const b = await timeSlice(first ? raw : rekeyOp, ops);
    ratios.push(first ? b / a : a / b);
  }
  return { median: quantile(ratios, 0.5), p25: quantile(ratios, 0.25), p75: quantile(ratios, 0.75) };
}

/** Runs the envelope benchmark, prints its tables and returns the figures. */
export async function runEnvelopeBench(opts: { rounds?: number; minMs?: number } = {}): Promise<EnvelopeBenchResult> {
  const loadAtStart = loadavg();
  const home = mkdtempSync(join(tmpdir(), 'rekey-bench-'));
  const keyringName = 'bench-keyring-16'; // 16 characters, as the overhead target specifies
  try {
    const vault = new FileKeyVault({ home });
    const store = new SqliteCatalogStore(join(home, 'catalog.db'));
    const keyrings = new KeyringService({
      store,
      vault,
      audit: { record: async () => undefined },
      clock: () => new Date(),
      facts: { referenceCounts: async () => ({ records: new Map() }), escrowVerified: async () => true },
    });
    await keyrings.createKeyring(keyringName, undefined, { actor: 'bench' });
    const provider = new CatalogKeyProvider({ store, vault });
    const rekey = new EnvelopeClient(provider);

    const esdkKey = randomBytes(32);
    const esdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const esdkKeyring = new RawAesKeyringNode({
      keyName: 'bench',
      keyNamespace: 'rekey-bench',
      unencryptedMasterKey: esdkKey,
      wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    });
    const esdkSuite = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;
    const rawKey = randomBytes(32);
    const rawKeyObject = createSecretKey(rawKey);

    const rows: Array<Record<string, string | number>> = [];
    const overheadBytes: Record<string, number> = {};
    for (const [label, size] of SIZES) {
      const pt = randomBytes(size);
      const rk = await rekey.encrypt(keyringName, pt);
      const raw = rawEncrypt(rawKey, pt);
      const es = (await esdk.encrypt(esdkKeyring, pt, { suiteId: esdkSuite })).result;
      // Small sizes are fast: shorter rounds suffice; the ESDK at 1 MiB is slow, so fewer ops.
      const enc = await measureOps(
        [
          { name: 'raw', op: () => rawEncrypt(rawKey, pt) },
          { name: 'raw-ko', op: () => rawEncrypt(rawKeyObject, pt) },
          { name: 'rekey', op: () => rekey.encrypt(keyringName, pt) },
          { name: 'esdk', op: () => esdk.encrypt(esdkKeyring, pt, { suiteId: esdkSuite }) },
        ],
        opts,
      );
      const dec = await measureOps(
        [
          { name: 'raw', op: () => rawDecrypt(rawKey, raw) },
          { name: 'raw-ko', op: () => rawDecrypt(rawKeyObject, raw) },
          { name: 'rekey', op: () => rekey.decrypt(rk) },
          { name: 'esdk', op: () => esdk.decrypt(esdkKeyring, es) },
        ],
        opts,
      );
      overheadBytes[label] = rk.length - size;
      const bestRawEnc = Math.max(enc.raw ?? 0, enc['raw-ko'] ?? 0) || 1;
      const bestRawDec = Math.max(dec.raw ?? 0, dec['raw-ko'] ?? 0) || 1;
      rows.push({
        size: label,
        'raw enc': enc.raw ?? 0,
        'rekey enc': enc.rekey ?? 0,
        'esdk enc': enc.esdk ?? 0,
        'raw-ko enc': enc['raw-ko'] ?? 0,
        'enc rekey/raw': (enc.rekey ?? 0) / (enc.raw ?? 1),
        'enc rekey/best raw': (enc.rekey ?? 0) / bestRawEnc,
        'enc rekey/esdk': (enc.rekey ?? 0) / (enc.esdk ?? 1),
        'raw dec': dec.raw ?? 0,
        'rekey dec': dec.rekey ?? 0,
        'esdk dec': dec.esdk ?? 0,
        'raw-ko dec': dec['raw-ko'] ?? 0,
        'dec rekey/raw': (dec.rekey ?? 0) / (dec.raw ?? 1),
        'dec rekey/best raw': (dec.rekey ?? 0) / bestRawDec,
        'dec rekey/esdk': (dec.rekey ?? 0) / (dec.esdk ?? 1),
        'rekey overhead B': rk.length - size,
        'raw overhead B': raw.length - size,
        'esdk overhead B': es.length - size,
      });
    }

    // The second method: pairs of short slices, 400 pairs of 200 operations at 1 KiB, 100 pairs of
    // 32 operations at 1 MiB (fewer ops per slice let one GC or mmap stall decide a whole pair).
    const sliced = async (size: number, pairs: number, ops: number): Promise<Record<string, number>> => {
      const pt = randomBytes(size);
      const envelope = await rekey.encrypt(keyringName, pt);
      const rawCt = rawEncrypt(rawKey, pt);
      const e = await pairedRatio(() => rekey.encrypt(keyringName, pt), [() => rawEncrypt(rawKey, pt), () => rawEncrypt(rawKeyObject, pt)], pairs, ops);
      const d = await pairedRatio(() => rekey.decrypt(envelope), [() => rawDecrypt(rawKey, rawCt), () => rawDecrypt(rawKeyObject, rawCt)], pairs, ops);
      return {
        'enc rekey/raw median': e.median,
        'enc rekey/raw p25': e.p25,
        'enc rekey/raw p75': e.p75,
        'dec rekey/raw median': d.median,
        'dec rekey/raw p25': d.p25,
        'dec rekey/raw p75': d.p75,
      };
    };
    const slices1KiB = await sliced(1024, 400, 200);
    const slices1MiB = await sliced(1024 * 1024, 100, 32);

    const small = await rekey.encrypt(keyringName, randomBytes(1024));
    const large = await rekey.encrypt(keyringName, randomBytes(1024 * 1024));
    // Re-wrap to the active version: the real operation of a sweep. rewrapParts returns the new
    // header and a view of the untouched body (what a store writes with writev / part copy).
    const rewrapOps = await measureOps(
      [
        { name: 'parts 1 KiB', op: () => rekey.rewrapParts(small) },
        { name: 'parts 1 MiB', op: () => rekey.rewrapParts(large) },
        { name: 'copy 1 KiB', op: () => rekey.rewrap(small) },
        { name: 'copy 1 MiB', op: () => rekey.rewrap(large) },
      ],
      opts,
    );

    const header = Object.keys(rows[0] ?? {});
    printTable('Envelope: ops/s (median of interleaved rounds) and ratios', header, rows.map((r) => header.map((h) => r[h] ?? '')));
    printTable(
      'Re-wrap ops/s (header only; "copy" also copies the payload into a new buffer)',
      ['variant', 'ops/s'],
      Object.entries(rewrapOps).map(([k, v]) => [k, v]),
    );

    printTable(
      'Paired short slices (rekey/raw per pair; raw alternates Buffer / KeyObject key)',
      ['ratio', '1 KiB', '1 MiB'],
      Object.keys(slices1KiB).map((k) => [k, slices1KiB[k] ?? 0, slices1MiB[k] ?? 0]),
    );

    const row = (l: string) => rows.find((r) => r.size === l) as Record<string, number>;
    const kib = row('1 KiB');
    const mib = row('1 MiB');
    const rewrapCost = (rewrapOps['parts 1 KiB'] ?? 0) / (rewrapOps['parts 1 MiB'] ?? 1);
    const targets = [
      { target: '1 KiB encrypt >= 0.4x raw AES-GCM', measured: kib['enc rekey/best raw'], bound: 0.4 },
      { target: '1 KiB decrypt >= 0.4x raw AES-GCM', measured: kib['dec rekey/best raw'], bound: 0.4 },
      { target: '1 KiB encrypt >= 20x ESDK', measured: kib['enc rekey/esdk'], bound: 20 },
      { target: '1 KiB decrypt >= 20x ESDK', measured: kib['dec rekey/esdk'], bound: 20 },
      { target: '1 MiB encrypt >= 0.85x raw AES-GCM', measured: mib['enc rekey/best raw'], bound: 0.85 },
      { target: '1 MiB decrypt >= 0.85x raw AES-GCM', measured: mib['dec rekey/best raw'], bound: 0.85 },
    ].map((t) => ({ target: t.target, measured: `${(t.measured ?? 0).toFixed(2)}x`, met: (t.measured ?? 0) >= t.bound }));
    targets.push({ target: 'overhead <= 100 B at 1 KiB (16-char keyring)', measured: `${overheadBytes['1 KiB']} B`, met: (overheadBytes['1 KiB'] ?? 999) <= 100 });
    targets.push({ target: 're-wrap 1 MiB <= 1.5x the cost of 1 KiB', measured: `${rewrapCost.toFixed(2)}x`, met: rewrapCost <= 1.5 });
    printTable('Targets', ['target', 'measured', 'met'], targets.map((t) => [t.target, t.measured, t.met ? 'yes' : 'NO']));
    const kdf = runEnvelopeKdfBench();
    return { rows, rewrap: rewrapOps, overheadBytes, targets, slices1KiB, slices1MiB, loadAverage: { start: loadAtStart, end: loadavg() }, kdf };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

if (require.main === module) {
  runEnvelopeBench()
    .then((r) => console.log(`\nwrote ${writeResult('envelope', r)}`))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
