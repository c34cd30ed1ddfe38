/**
 * `npm run bench`: every benchmark in one run, each printing its table and writing
 * bench/results/<name>.json. Ratios are against baselines measured in the same run on the same
 * machine; absolute figures depend on the machine. `npm run bench -- envelope cache` runs a subset.
 * REKEY_BENCH_RECORDS sets the sweep benchmark's record count (default 100,000);
 * REKEY_BENCH_IMPORT_RECORDS the records-import benchmark's (default 20,000);
 * REKEY_BENCH_STORE_RECORDS the record-store benchmark's (default 100,000, fewer on moto_server's
 * stores by default, said in its table; bench/stores.ts lists its other variables);
 * REKEY_BENCH_SWEEP_RECORDS the sweep-costs benchmark's records per target (default 5,000;
 * bench/sweep-costs.ts lists its other variables).
 */
import { runEnvelopeBench } from './envelope';
import { runReencryptBench, formatReencryptBench } from './reencrypt';
import { runCacheBench } from './cache';
import { runBundleBench, formatBundleTable } from './bundles';
import { runRecordsImportBench } from './records-import';
import { printStoresBench, runStoresBench, storesBenchOptionsFromEnv } from './stores';
import { printSweepCosts, runSweepCostsBench, sweepCostsOptionsFromEnv } from './sweep-costs';
import { writeResult } from './lib/measure';
import { quietSdkNodeVersionWarning } from '../cli/quiet-warnings';

const BENCHES: Record<string, () => Promise<void>> = {
  envelope: async () => {
    writeResult('envelope', await runEnvelopeBench());
  },
  reencrypt: async () => {
    const records = Number(process.env.REKEY_BENCH_RECORDS ?? 100_000);
    const r = await runReencryptBench({ records, log: (line: string) => console.error(line) });
    console.log(`\n${formatReencryptBench(r)}`);
    writeResult('reencrypt', r);
  },
  cache: async () => {
    writeResult('cache', await runCacheBench());
  },
  'records-import': async () => {
    writeResult('records-import', await runRecordsImportBench({ records: Number(process.env.REKEY_BENCH_IMPORT_RECORDS ?? 20_000) }));
  },
  stores: async () => {
    const r = await runStoresBench({ ...storesBenchOptionsFromEnv(), log: (line: string) => console.error(line) });
    printStoresBench(r);
    writeResult('stores', r);
  },
  'sweep-costs': async () => {
    const r = await runSweepCostsBench({ ...sweepCostsOptionsFromEnv(), log: (line: string) => console.error(line) });
    printSweepCosts(r);
    writeResult('sweep-costs', r);
  },
  bundles: async () => {
    const r = await runBundleBench();
    console.log(`\n${formatBundleTable(r)}`);
    writeResult('bundles', r);
  },
};

async function main(): Promise<void> {
  quietSdkNodeVersionWarning();
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !(w in BENCHES));
  if (unknown.length > 0) throw new Error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`);
  for (const name of wanted.length > 0 ? wanted : Object.keys(BENCHES)) {
    const start = Date.now();
    console.log(`\n######## ${name}`);
    await (BENCHES[name] as () => Promise<void>)();
    console.log(`(${name}: ${((Date.now() - start) / 1000).toFixed(1)} s; bench/results/${name}.json)`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
