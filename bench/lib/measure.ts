/**
 * Benchmark measurement: operations per second of a function, measured in interleaved rounds
 * so that every contender sees the same machine state, and reported as the median round.
 * Ratios between contenders of one run are what we quote; absolute figures vary by machine.
 */
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One contender: a name and an operation (sync or async) to repeat. */
export interface Contender {
  readonly name: string;
  readonly op: () => unknown;
}

/** Median ops/s per contender. */
export type OpsResult = Record<string, number>;

async function timeRound(op: () => unknown, minMs: number): Promise<number> {
  // Run in growing batches so the clock is read rarely relative to the work.
  let ops = 0;
  let batch = 1;
  const start = process.hrtime.bigint();
  const budget = BigInt(minMs) * 1_000_000n;
  for (;;) {
    for (let i = 0; i < batch; i += 1) {
      const r = op();
      if (r instanceof Promise) await r;
    }
    ops += batch;
    const elapsed = process.hrtime.bigint() - start;
    if (elapsed >= budget) return (ops * 1e9) / Number(elapsed);
    if (batch < 1024) batch *= 2;
  }
}

/**
 * Measures every contender in `rounds` interleaved rounds of at least `minMs` each, after one
 * warm-up round, and returns the median ops/s of each.
 */
export async function measureOps(contenders: readonly Contender[], opts: { rounds?: number; minMs?: number } = {}): Promise<OpsResult> {
  const rounds = opts.rounds ?? 5;
  const minMs = opts.minMs ?? 300;
  for (const c of contenders) await timeRound(c.op, Math.min(100, minMs));
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r += 1) {
    for (const c of contenders) samples.get(c.name)?.push(await timeRound(c.op, minMs));
  }
  const out: OpsResult = {};
  for (const [name, xs] of samples) out[name] = median(xs);
  return out;
}

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Prints rows as an aligned text table. */
export function printTable(title: string, header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): void {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: readonly (string | number)[]) => r.map((c, i) => String(c).padStart(widths[i] ?? 0)).join('  ');
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
}

/** Human formatting: integers with thousands separators, small ratios with two decimals. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(2);
}

/** Machine facts written next to every result, so figures are never read without context. */
export function environment(): Record<string, string | number> {
  return { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30), at: new Date().toISOString() };
}

/** Writes `bench/results/<name>.json`. */
export function writeResult(name: string, data: unknown): string {
  const dir = join(__dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify({ environment: environment(), ...(data as object) }, null, 2)}\n`);
  return file;
}
