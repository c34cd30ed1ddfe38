/**
 * Benchmark of `records import`'s engine (RecordService.importRecords: batched only-if-absent
 * writes, one SQLite transaction per 500 records) against what a script calling `records put`
 * per record reduces to once process start-up is left out (a sequential RecordService.put loop,
 * one transaction per record), on the same records in fresh local homes of the same run. The
 * CLI's real alternative also starts one process per record, so the ratio here is a floor.
 * A third row imports the same records from a folder of files through the CLI's folder source
 * (listing and reading included), which is what `rekey records import DIR` does after start-up.
 *
 * Run: `npm run bench -- records-import` (REKEY_BENCH_IMPORT_RECORDS sets the count, default 20,000).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../cli/main';
import { listImportFolder } from '../cli/record-import-source';
import { openLocal } from '../shared/compose/local/local-services';
import type { ImportItem } from '../shared/reencrypt/record-service';
import { printTable } from './lib/measure';

/** Result of {@link runRecordsImportBench}. */
export interface RecordsImportBenchResult {
  readonly benchmark: 'records-import';
  readonly records: number;
  readonly sizeBytes: { readonly min: number; readonly max: number };
  readonly rows: ReadonlyArray<{ readonly approach: 'import' | 'import-folder' | 'put-loop'; readonly seconds: number; readonly recordsPerSecond: number }>;
  /** import's records per second over the put loop's. */
  readonly speedup: number;
}

async function freshHome(): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), 'rekey-bench-import-'));
  // The keyring is made the way an operator makes it; its lines go to stderr.
  const code = await run(['--home', home, 'keyring', 'create', 'bench']);
  if (code !== 0) throw new Error(`keyring create exited ${code}`);
  return home;
}

async function* itemsOf(data: ReadonlyMap<string, Buffer>): AsyncGenerator<ImportItem> {
  for (const [id, plaintext] of data) yield { id, label: id, load: async () => Buffer.from(plaintext) };
}

async function* fromArray<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

async function timed(home: string, fn: (rk: Awaited<ReturnType<typeof openLocal>>) => Promise<void>): Promise<number> {
  const rk = await openLocal({ home });
  try {
    const start = process.hrtime.bigint();
    await fn(rk);
    return Number(process.hrtime.bigint() - start) / 1e9;
  } finally {
    await rk.close();
  }
}

/**
 * Measures both approaches on `records` records of 64 .. 1087 bytes and prints the table.
 *
 * @example
 * const r = await runRecordsImportBench({ records: 5000 }); // r.speedup ~ 10
 */
export async function runRecordsImportBench(options: { records?: number } = {}): Promise<RecordsImportBenchResult> {
  const n = options.records ?? 20_000;
  const data = new Map<string, Buffer>();
  for (let i = 0; i < n; i += 1) data.set(`user-${String(i).padStart(6, '0')}`, randomBytes(64 + (i % 1024)));
  const homes = [await freshHome(), await freshHome(), await freshHome()];
  const folder = mkdtempSync(join(tmpdir(), 'rekey-bench-import-files-'));
  try {
    const importSeconds = await timed(homes[0] as string, async (rk) => {
      const report = await rk.recordService.importRecords(itemsOf(data), 'bench');
      if (report.imported !== n) throw new Error(`imported ${report.imported} of ${n}`);
    });
    mkdirSync(folder, { recursive: true });
    for (const [id, plaintext] of data) writeFileSync(join(folder, id), plaintext);
    const folderSeconds = await timed(homes[2] as string, async (rk) => {
      const { items } = await listImportFolder(folder);
      const report = await rk.recordService.importRecords(fromArray(items), 'bench');
      if (report.imported !== n) throw new Error(`imported ${report.imported} of ${n} files`);
    });
    const putSeconds = await timed(homes[1] as string, async (rk) => {
      for (const [id, plaintext] of data) await rk.recordService.put(id, 'bench', plaintext, { expectedRevision: null });
    });
    const rows = [
      { approach: 'import' as const, seconds: importSeconds, recordsPerSecond: n / importSeconds },
      { approach: 'import-folder' as const, seconds: folderSeconds, recordsPerSecond: n / folderSeconds },
      { approach: 'put-loop' as const, seconds: putSeconds, recordsPerSecond: n / putSeconds },
    ];
    const speedup = putSeconds / importSeconds;
    printTable(`records import vs a put loop, ${n} records of 64..1087 bytes`, ['approach', 'seconds', 'records/s'], [
      ...rows.map((r) => [r.approach, r.seconds, r.recordsPerSecond]),
      ['import speedup', speedup, ''],
    ]);
    return { benchmark: 'records-import', records: n, sizeBytes: { min: 64, max: 1087 }, rows, speedup };
  } finally {
    for (const h of [...homes, folder]) rmSync(h, { recursive: true, force: true });
  }
}
