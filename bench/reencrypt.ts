/**
 * Benchmark of the background sweep on the local stack (SqliteRecordStore in a temporary
 * folder): records per second for a header-only re-wrap sweep against the article's approach
 * (decrypt the whole payload and encrypt it again under a fresh data key: same store, same
 * scan, same concurrency, same batched conditional writes), for 1 KiB and 64 KiB records, in
 * the same run. The emergency re-encryption sweep (fresh data key plus a verifying decrypt) is
 * measured too, for the runbook. Loading the records is timed apart and is not in any figure.
 *
 * Run: `npx ts-node --transpile-only bench/reencrypt.ts [--records 100000] [--sizes 1024,65536]
 * [--concurrency 4] [--batch 500] [--out bench/results/reencrypt.json]`
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SqliteCheckpointStore } from '../shared/adapters/local/sqlite-checkpoint-store';
import { SqliteRecordStore } from '../shared/adapters/local/sqlite-record-store';
import type { RecordInput } from '../shared/adapters/local/sqlite-record-store';
import { recordContext, runBounded, Sweeper, withHeaderRewrap } from '../shared/reencrypt';
import { openBenchKeyring, type BenchKeyring } from './lib/bench-keyring';

/** Options of {@link runReencryptBench}. */
export interface ReencryptBenchOptions {
  /** Records per dataset. @default 100000 */
  readonly records?: number;
  /** Payload sizes in bytes. @default [1024, 65536] */
  readonly sizes?: readonly number[];
  /** Records migrated at the same time, for every approach. @default 4 */
  readonly concurrency?: number;
  /** Scan page size (and checkpoint interval). @default 500 */
  readonly batchSize?: number;
  /** Parent folder of the temporary homes. @default os.tmpdir() */
  readonly dir?: string;
  /** Progress lines. @default nothing */
  readonly log?: (line: string) => void;
}

/** One measured sweep. */
export interface ReencryptBenchRow {
  readonly sizeBytes: number;
  readonly records: number;
  /** `rewrap`: header-only; `article`: decrypt + encrypt the payload; `reencrypt`: rekey's emergency sweep (fresh data key, verified). */
  readonly approach: 'rewrap' | 'article' | 'reencrypt';
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly migrated: number;
  /** 1-minute load average when the measurement started (other work on the machine skews figures). */
  readonly loadAverage1m: number;
}

/** Result of {@link runReencryptBench}. */
export interface ReencryptBenchResult {
  readonly benchmark: 'reencrypt';
  readonly at: string;
  readonly machine: { readonly cpus: number; readonly model: string; readonly node: string; readonly totalMemGiB: number };
  readonly options: { readonly records: number; readonly sizes: readonly number[]; readonly concurrency: number; readonly batchSize: number };
  /** Seconds to generate and bulk-load each dataset (not part of any sweep figure). */
  readonly loadSeconds: Readonly<Record<string, number>>;
  /** Database size after loading, per payload size. */
  readonly databaseBytes: Readonly<Record<string, number>>;
  readonly rows: readonly ReencryptBenchRow[];
  readonly targets: {
    /** rewrap time at the largest size over rewrap time at the smallest (target <= 1.5). */
    readonly largeOverSmallRewrapTime?: number;
    readonly largeWithin1_5xOfSmall?: boolean;
    /** article time over rewrap time at the largest size (target >= 3). */
    readonly rewrapSpeedupOverArticleAtLarge?: number;
    readonly atLeast3xFasterThanArticle?: boolean;
  };
}

const KEYRING = 'bench';

async function measure(fn: () => Promise<number>): Promise<{ seconds: number; migrated: number; load: number }> {
  const load = loadavg()[0] ?? 0;
  const start = performance.now();
  const migrated = await fn();
  return { seconds: (performance.now() - start) / 1000, migrated, load };
}

/** Runs the benchmark and returns its figures (nothing is written). */
export async function runReencryptBench(opts: ReencryptBenchOptions = {}): Promise<ReencryptBenchResult> {
  const n = opts.records ?? 100_000;
  const sizes = opts.sizes ?? [1024, 65_536];
  const concurrency = opts.concurrency ?? 4;
  const batchSize = opts.batchSize ?? 500;
  const log = opts.log ?? ((): void => undefined);
  const rows: ReencryptBenchRow[] = [];
  const loadSeconds: Record<string, number> = {};
  const databaseBytes: Record<string, number> = {};

  for (const size of sizes) {
    const home = mkdtempSync(join(opts.dir ?? tmpdir(), 'rekey-bench-'));
    const records = new SqliteRecordStore({ home });
    const checkpoints = new SqliteCheckpointStore({ home });
    let keyring: BenchKeyring | undefined;
    try {
      keyring = await openBenchKeyring(home, KEYRING, records);
      const { provider, envelopes, promote } = keyring;

      log(`size ${size}: loading ${n} records`);
      const load = await measure(async () => {
        const base = randomBytes(size);
        for (let start = 0; start < n; start += 1000) {
          const chunk: RecordInput[] = [];
          for (let i = start; i < Math.min(n, start + 1000); i += 1) {
            const id = `rec-${String(i).padStart(8, '0')}`;
            base.writeUInt32BE(i, 0);
            const envelope = await envelopes.encrypt(KEYRING, base, { context: recordContext(id) });
            chunk.push({ id, keyring: KEYRING, version: 1, envelope });
          }
          await records.putMany(chunk);
        }
        return n;
      });
      loadSeconds[String(size)] = load.seconds;
      databaseBytes[String(size)] = statSync(join(home, 'records.db')).size;

      const sweeper = new Sweeper({ records, envelopes: withHeaderRewrap(envelopes, provider), versions: provider });
      const v2 = await promote();
      log(`size ${size}: rewrap sweep v1 -> v${v2}`);
      const rewrap = await measure(async () => (await sweeper.sweep(KEYRING, 1, { mode: 'rewrap', batchSize, concurrency, checkpoint: checkpoints })).done);
      rows.push(row(size, n, 'rewrap', rewrap));

      const v3 = await promote();
      log(`size ${size}: article sweep v${v2} -> v${v3}`);
      const article = await measure(async () => {
        let migrated = 0;
        let cursor: string | undefined;
        do {
          const page = await records.scanByVersion(KEYRING, v2, { limit: batchSize, ...(cursor === undefined ? {} : { cursor }) });
          // The article's approach on the same footing as the sweep: same scan, same bounded
          // concurrency, same one-commit-per-batch conditional write; only the per-record work
          // differs (whole payload decrypted and encrypted again, whole envelope written).
          const writes = await runBounded(page.items, concurrency, async (ref) => {
            const rec = await records.get(ref.id);
            if (rec === undefined || rec.version !== v2) return undefined;
            const context = recordContext(rec.id);
            const { plaintext } = await envelopes.decrypt(rec.envelope, { context });
            const next = await envelopes.encrypt(KEYRING, plaintext, { context });
            plaintext.fill(0);
            return { write: { id: rec.id, keyring: KEYRING, version: envelopes.inspect(next).version, envelope: next }, expectedRevision: rec.revision };
          });
          const outcomes = await records.putBatch(writes.filter((w) => w !== undefined));
          migrated += outcomes.filter((o) => o.ok).length;
          cursor = page.cursor;
        } while (cursor !== undefined);
        return migrated;
      });
      rows.push(row(size, n, 'article', article));

      const v4 = await promote();
      log(`size ${size}: emergency reencrypt sweep v${v3} -> v${v4}`);
      const reencrypt = await measure(async () => (await sweeper.sweep(KEYRING, v3, { mode: 'reencrypt', batchSize, concurrency, checkpoint: checkpoints })).done);
      rows.push(row(size, n, 'reencrypt', reencrypt));
    } finally {
      keyring?.close();
      records.close();
      checkpoints.close();
      rmSync(home, { recursive: true, force: true });
    }
  }

  const small = Math.min(...sizes);
  const large = Math.max(...sizes);
  const time = (size: number, approach: ReencryptBenchRow['approach']): number | undefined =>
    rows.find((r) => r.sizeBytes === size && r.approach === approach)?.seconds;
  const rewrapSmall = time(small, 'rewrap');
  const rewrapLarge = time(large, 'rewrap');
  const articleLarge = time(large, 'article');
  const ratio = rewrapSmall !== undefined && rewrapLarge !== undefined && sizes.length > 1 ? rewrapLarge / rewrapSmall : undefined;
  const speedup = articleLarge !== undefined && rewrapLarge !== undefined ? articleLarge / rewrapLarge : undefined;
  return {
    benchmark: 'reencrypt',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, totalMemGiB: Math.round(totalmem() / 2 ** 30) },
    options: { records: n, sizes, concurrency, batchSize },
    loadSeconds,
    databaseBytes,
    rows,
    targets: {
      ...(ratio === undefined ? {} : { largeOverSmallRewrapTime: round(ratio), largeWithin1_5xOfSmall: ratio <= 1.5 }),
      ...(speedup === undefined ? {} : { rewrapSpeedupOverArticleAtLarge: round(speedup), atLeast3xFasterThanArticle: speedup >= 3 }),
    },
  };
}

function row(sizeBytes: number, records: number, approach: ReencryptBenchRow['approach'], m: { seconds: number; migrated: number; load: number }): ReencryptBenchRow {
  return { sizeBytes, records, approach, seconds: round(m.seconds), recordsPerSecond: Math.round(m.migrated / m.seconds), migrated: m.migrated, loadAverage1m: round(m.load) };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Prints the figures as a table. */
export function formatReencryptBench(result: ReencryptBenchResult): string {
  const lines = ['size      approach   records   seconds   records/s   load(1m)'];
  for (const r of result.rows) {
    lines.push(`${String(r.sizeBytes).padEnd(9)} ${r.approach.padEnd(10)} ${String(r.migrated).padStart(7)} ${r.seconds.toFixed(2).padStart(9)} ${String(r.recordsPerSecond).padStart(11)} ${r.loadAverage1m.toFixed(2).padStart(10)}`);
  }
  const t = result.targets;
  if (t.largeOverSmallRewrapTime !== undefined) lines.push(`rewrap time, largest / smallest size: ${t.largeOverSmallRewrapTime}x (target <= 1.5x: ${t.largeWithin1_5xOfSmall ? 'met' : 'missed'})`);
  if (t.rewrapSpeedupOverArticleAtLarge !== undefined) lines.push(`rewrap speed-up over the article's approach at the largest size: ${t.rewrapSpeedupOverArticleAtLarge}x (target >= 3x: ${t.atLeast3xFasterThanArticle ? 'met' : 'missed'})`);
  return lines.join('\n');
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}

async function main(): Promise<void> {
  const records = argValue('--records');
  const sizes = argValue('--sizes');
  const concurrency = argValue('--concurrency');
  const batch = argValue('--batch');
  const out = argValue('--out') ?? join(__dirname, 'results', 'reencrypt.json');
  const dir = argValue('--dir');
  const result = await runReencryptBench({
    ...(records === undefined ? {} : { records: Number(records) }),
    ...(sizes === undefined ? {} : { sizes: sizes.split(',').map(Number) }),
    ...(concurrency === undefined ? {} : { concurrency: Number(concurrency) }),
    ...(batch === undefined ? {} : { batchSize: Number(batch) }),
    ...(dir === undefined ? {} : { dir }),
    log: (line) => console.error(`[${new Date().toISOString()}] ${line} (free memory ${Math.round(freemem() / 2 ** 20)} MiB)`),
  });
  console.log(formatReencryptBench(result));
  if (!existsSync(dirname(out))) mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`written to ${out}`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
