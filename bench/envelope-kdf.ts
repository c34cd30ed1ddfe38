/**
 * Key-derivation benchmark (issue 11): the commitment over the data key, the authenticated
 * header and the bound context, against the derivation it replaced (the data key and the suite
 * only), measured in the same run. Two levels:
 * - the KDF alone, for a 16-character keyring without and with a context, and for a header that
 *   no longer fits one SHA-512 block (64-character keyring, 200-byte stored context);
 * - the message path with only the KDF differing (AES-KW unwrap or wrap, KDF, commitment check,
 *   AES-256-GCM one-shot) at 64 B and 1 KiB, which is where the derivation's share is largest.
 *
 *   npx ts-node --swc bench/envelope-kdf.ts
 */
import { hash, randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { encodeContext } from '../shared/envelope/context-encoding';
import { commitmentMatches, deriveKeys, openOneShot, sealOneShot, unwrapDataKey, wrapDataKey } from '../shared/envelope/envelope-crypto';
import { SUITE_ONE_SHOT, TAG_LENGTH, headerLayout, writeHeaderPrefix } from '../shared/envelope/format';
import { printTable, writeResult } from './lib/measure';

/** The derivation before issue 11: SHA-512(u32 1 || DK || "rekey/v1/" || suite), 46 bytes. */
const PREVIOUS_INPUT = Buffer.alloc(46);
PREVIOUS_INPUT.writeUInt32BE(1, 0);
PREVIOUS_INPUT.write('rekey/v1/', 36, 'latin1');
function previousDerive(dk: Buffer, suite: number): Buffer {
  dk.copy(PREVIOUS_INPUT, 4);
  PREVIOUS_INPUT[45] = suite;
  try {
    return hash('sha512', PREVIOUS_INPUT, 'buffer');
  } finally {
    PREVIOUS_INPUT.fill(0, 4, 36);
  }
}

/** A header prefix (AH before the commitment) and the context bytes of one shape of envelope. */
interface Shape {
  readonly name: string;
  readonly prefix: Buffer;
  readonly ah: Buffer;
  readonly context: Buffer | undefined;
}

function shape(name: string, keyring: string, context: Record<string, string> | undefined, stored: boolean): Shape {
  const encoded = context === undefined ? undefined : encodeContext(context);
  const fields = { suite: SUITE_ONE_SHOT, keyring, contextBound: encoded !== undefined, storedContext: stored ? encoded : undefined };
  const layout = headerLayout(fields);
  const out = Buffer.alloc(layout.ahLength);
  writeHeaderPrefix(out, fields, 3, layout);
  randomBytes(32).copy(out, layout.commitmentOffset);
  return { name, prefix: out.subarray(0, layout.commitmentOffset), ah: out, context: encoded };
}

/** A comparison of two operations: cost ratio new/previous per pair of slices, and best slices. */
export interface PairedCost {
  /** Median over pairs of (time of new / time of previous), with quartiles: > 1 means slower. */
  readonly median: number;
  readonly p25: number;
  readonly p75: number;
  /** Best (least loaded) slice of each, in microseconds per operation. */
  readonly bestPreviousMicros: number;
  readonly bestNewMicros: number;
}

function timeSlice(op: () => unknown, ops: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < ops; i += 1) op();
  return Number(process.hrtime.bigint() - start) / ops / 1000;
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

/**
 * Cost of `next` relative to `previous` from `pairs` pairs of short slices run back to back,
 * the order alternating, so that load from other processes (the machine is shared) hits both
 * sides of a pair alike; the median of the per-pair ratios is robust to the bursts.
 */
function pairedCost(previous: () => unknown, next: () => unknown, pairs: number, ops: number): PairedCost {
  for (let i = 0; i < 3; i += 1) {
    timeSlice(previous, ops);
    timeSlice(next, ops);
  }
  const ratios: number[] = [];
  let bestPrevious = Infinity;
  let bestNew = Infinity;
  for (let i = 0; i < pairs; i += 1) {
    const first = i % 2 === 0;
    const a = timeSlice(first ? previous : next, ops);
    const b = timeSlice(first ? next : previous, ops);
    const [p, n] = first ? [a, b] : [b, a];
    ratios.push(n / p);
    bestPrevious = Math.min(bestPrevious, p);
    bestNew = Math.min(bestNew, n);
  }
  return { median: quantile(ratios, 0.5), p25: quantile(ratios, 0.25), p75: quantile(ratios, 0.75), bestPreviousMicros: bestPrevious, bestNewMicros: bestNew };
}

/** Result of the KDF benchmark. */
export interface EnvelopeKdfBenchResult {
  /** The KDF alone, per header shape: input length and cost relative to the previous derivation. */
  readonly kdf: ReadonlyArray<{ readonly shape: string; readonly inputBytes: number } & PairedCost>;
  /** The message path per size and shape, encrypt and decrypt, relative to the previous derivation. */
  readonly message: ReadonlyArray<{ readonly size: string; readonly shape: string; readonly operation: string } & PairedCost>;
  /** os.loadavg() when the run started and ended: figures from a loaded machine are noisier. */
  readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] };
}

/** Runs the KDF benchmark, prints its tables and returns the figures. */
export function runEnvelopeKdfBench(opts: { pairs?: number; ops?: number } = {}): EnvelopeKdfBenchResult {
  const pairs = opts.pairs ?? 400;
  const ops = opts.ops ?? 200;
  const loadAtStart = loadavg();
  const dk = randomBytes(32);
  const vk = randomBytes(32);
  const shapes = [
    shape('16-char keyring, no context', 'bench-keyring-16', undefined, false),
    shape('16-char keyring, 2-pair context', 'bench-keyring-16', { tenant: 'acme', record: 'r-000123' }, false),
    shape('64-char keyring, 200 B stored context', 'k'.repeat(64), { note: 'n'.repeat(190) }, true),
  ];
  const kdf = shapes.map((s) => ({
    shape: s.name,
    inputBytes: 46 + s.prefix.length + (s.context?.length ?? 0),
    ...pairedCost(
      () => previousDerive(dk, SUITE_ONE_SHOT),
      () => deriveKeys(dk, SUITE_ONE_SHOT, s.prefix, s.context),
      pairs,
      ops,
    ),
  }));

  const message: Array<EnvelopeKdfBenchResult['message'][number]> = [];
  for (const [label, size] of [
    ['64 B', 64],
    ['1 KiB', 1024],
  ] as const) {
    for (const s of shapes.slice(0, 2)) {
      const pt = randomBytes(size);
      const wrapped = wrapDataKey(vk, dk);
      const seal = (derived: Buffer): { body: Buffer; commitment: Buffer } => {
        const body = Buffer.alloc(size + TAG_LENGTH);
        sealOneShot(derived.subarray(0, 32), s.ah, s.context, pt, body, 0);
        return { body, commitment: Buffer.from(derived.subarray(32)) };
      };
      const derivePrevious = (k: Buffer): Buffer => previousDerive(k, SUITE_ONE_SHOT);
      const deriveNew = (k: Buffer): Buffer => deriveKeys(k, SUITE_ONE_SHOT, s.prefix, s.context);
      const prev = seal(derivePrevious(dk));
      const next = seal(deriveNew(dk));
      const open = (derive: (k: Buffer) => Buffer, sealed: { body: Buffer; commitment: Buffer }) => (): Buffer => {
        const key = unwrapDataKey(vk, wrapped);
        const derived = derive(key);
        key.fill(0);
        if (!commitmentMatches(derived, sealed.commitment)) throw new Error('commitment mismatch in the benchmark');
        return openOneShot(derived.subarray(0, 32), s.ah, s.context, sealed.body);
      };
      const encrypt = (derive: (k: Buffer) => Buffer) => (): Buffer => {
        const key = Buffer.from(dk);
        wrapDataKey(vk, key);
        const derived = derive(key);
        key.fill(0);
        const out = Buffer.allocUnsafe(size + TAG_LENGTH);
        sealOneShot(derived.subarray(0, 32), s.ah, s.context, pt, out, 0);
        return out;
      };
      message.push({ size: label, shape: s.name, operation: 'encrypt', ...pairedCost(encrypt(derivePrevious), encrypt(deriveNew), pairs / 2, ops / 2) });
      message.push({ size: label, shape: s.name, operation: 'decrypt', ...pairedCost(open(derivePrevious, prev), open(deriveNew, next), pairs / 2, ops / 2) });
    }
  }

  const cells = (c: PairedCost): Array<string | number> => [c.bestPreviousMicros, c.bestNewMicros, c.p25, c.median, c.p75];
  printTable(
    'Key derivation alone: best slice (µs/op) and cost new/previous (median of paired slices, quartiles)',
    ['shape', 'input B', 'previous µs', 'new µs', 'p25', 'median', 'p75'],
    kdf.map((k) => [k.shape, k.inputBytes, ...cells(k)]),
  );
  printTable(
    'Message path (AES-KW, KDF, commitment, GCM): best slice (µs/op) and cost new/previous',
    ['size', 'shape', 'operation', 'previous µs', 'new µs', 'p25', 'median', 'p75'],
    message.map((m) => [m.size, m.shape, m.operation, ...cells(m)]),
  );
  return { kdf, message, loadAverage: { start: loadAtStart, end: loadavg() } };
}

if (require.main === module) {
  console.log(`\nwrote ${writeResult('envelope-kdf', runEnvelopeKdfBench())}`);
}
