/**
 * Bundle benchmark: esbuild-bundles every function handler exactly as the stack does
 * (infra/defaults.ts ESBUILD_OPTIONS, the options NodejsFunction receives), plus a bare Middy +
 * KMS handler built the same way as the baseline, then reports each bundle's minified size and
 * its cold module-load time: the median of N fresh `node -e "require(bundle)"` processes, minus
 * nothing (every run pays the same node start-up, so ratios to the baseline stay honest).
 * Target: every function under 500 KB and within 1.5x of the baseline's load time.
 *
 * A function builds its event schema on its first event (zod schemas are lazy), reads its
 * configuration and builds its services on the first valid event, so the load time alone can
 * understate what a cold start pays. `readyMs` adds that: load, then one valid event under a
 * configuration that fails validation once every other variable is checked (no network is
 * touched; see READY_PROBES). The baseline builds its client at load, so its `readyMs` is its
 * load time.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { ESBUILD_OPTIONS, FUNCTION_ENTRIES } from '../infra/defaults';
import { ENV } from '../shared/config/env-names';

/** Measurements of one bundle. */
export interface BundleFigures {
  readonly name: string;
  readonly entry: string;
  readonly bytes: number;
  /** Median cold require time in ms (fresh node process each run, timed inside the process). */
  readonly loadMs: number;
  readonly loadRatio: number;
  /** Median time to load plus one valid event with every lazily loaded module in (see above). */
  readonly readyMs: number;
  /** `readyMs` over the baseline's. */
  readonly readyRatio: number;
  readonly withinTarget: boolean;
}

/** The whole result, as written to bench/results/bundles.json. */
export interface Result {
  readonly runs: number;
  readonly node: string;
  readonly maxBytes: number;
  readonly maxLoadRatio: number;
  readonly baseline: BundleFigures;
  readonly functions: readonly BundleFigures[];
  readonly allWithinTarget: boolean;
}

const ROOT = resolve(__dirname, '..');

/** The handlers the stack bundles: the stack's own list. */
export const BUNDLED_HANDLERS: Readonly<Record<string, string>> = FUNCTION_ENTRIES;

const BASELINE_SOURCE = `
import middy from '@middy/core';
import { KMSClient, DecryptCommand } from '@aws-sdk/client-kms';
const kms = new KMSClient({});
export const handler = middy(async (event: { blob: string }) => {
  const out = await kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from(event.blob, 'base64') }));
  return { bytes: out.Plaintext?.length ?? 0 };
});
`;

const BENCH_KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/**
 * The environment the stack gives every function (infra/rekey-stack.ts functionEnvironment),
 * less REKEY_EVENT_BUS_NAME: the configuration loader validates every other variable (so its
 * schemas are built and run, as on a real first event) and then fails, before any client exists.
 */
const FUNCTION_ENV_LESS_ONE: Readonly<Record<string, string>> = {
  [ENV.catalogBucket]: 'rekey-catalog',
  [ENV.catalogPrefix]: 'catalog/',
  [ENV.keyringKeys]: JSON.stringify({ payments: BENCH_KEY_ARN }),
  [ENV.escrowBucket]: 'rekey-escrow',
  [ENV.escrowKeyArn]: BENCH_KEY_ARN,
  [ENV.recordTargets]: JSON.stringify([{ keyring: 'payments', bucket: 'data-bucket', prefix: 'r/' }]),
  [ENV.breakerThreshold]: '0.05',
  [ENV.cacheName]: 'rekey-cache',
};

/**
 * A valid event per handler whose run stops at the configuration: the functions get the stack's
 * environment less one required variable (above); key-access gets a valid configuration and a
 * keyring it does not know. Modules a function imports only once its services run (ioredis, the
 * ElastiCache and Step Functions clients) are not loaded by this probe.
 */
const READY_PROBES: Readonly<Record<string, { event: unknown; env?: Record<string, string> }>> = {
  rotate: { event: { keyring: 'payments' }, env: FUNCTION_ENV_LESS_ONE },
  'grace-period': { event: {}, env: FUNCTION_ENV_LESS_ONE },
  reencrypt: { event: { BatchInput: { keyring: 'payments', bucket: 'data-bucket', prefix: 'r/', mode: 'rewrap' }, Items: [{ Key: 'r/1' }] }, env: FUNCTION_ENV_LESS_ONE },
  'cache-invalidate': { event: { keyring: 'payments' }, env: FUNCTION_ENV_LESS_ONE },
  escrow: { event: { action: 'drill' }, env: FUNCTION_ENV_LESS_ONE },
  revoke: {
    event: { version: '0', id: 'e-1', source: 'rekey', 'detail-type': 'Key Version Compromised', detail: { keyring: 'payments', version: 2, reason: 'bench' } },
    env: FUNCTION_ENV_LESS_ONE,
  },
  'key-access': {
    event: { keyring: 'not-configured' },
    env: {
      REKEY_CATALOG_BUCKET: 'rekey-catalog',
      REKEY_KEYRING_KEYS: JSON.stringify({ payments: BENCH_KEY_ARN }),
      REKEY_KEY_GRANTEES: JSON.stringify({ payments: ['arn:aws:iam::123456789012:role/app'] }),
    },
  },
};

const MAX_BYTES = 500 * 1024;
const MAX_LOAD_RATIO = 1.5;

/** Bundles a handler file, or (for the baseline) source text resolved from the project root. */
async function bundle(entry: string | { source: string }, outfile: string): Promise<number> {
  const input = typeof entry === 'string' ? { entryPoints: [entry] } : { stdin: { contents: entry.source, resolveDir: ROOT, loader: 'ts' as const, sourcefile: 'baseline.ts' } };
  await build({ ...ESBUILD_OPTIONS, external: [...ESBUILD_OPTIONS.external], mainFields: [...ESBUILD_OPTIONS.mainFields], ...input, outfile, logLevel: 'silent', absWorkingDir: ROOT });
  return statSync(outfile).size;
}

function loadTimeMs(file: string): number {
  // Timed inside the child, so node's own start-up does not dilute the comparison.
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', AWS_REGION: 'us-east-1' } });
  if (run.status !== 0) throw new Error(`loading ${file} failed: ${run.stderr.slice(0, 500)}`);
  return Number(run.stdout);
}

function readyTimeMs(file: string, probe: { event: unknown; env?: Record<string, string> } | undefined): number {
  if (probe === undefined) return loadTimeMs(file);
  // The handler answers (or throws) once its configuration is read, after the lazy imports.
  const script = `const t=process.hrtime.bigint();const {handler}=require(${JSON.stringify(file)});Promise.resolve().then(()=>handler(${JSON.stringify(probe.event)},{functionName:'bench',awsRequestId:'bench',invokedFunctionArn:'arn:aws:lambda:us-east-1:123456789012:function:bench'})).catch(()=>undefined).then(()=>process.stdout.write('\\nREADY_MS='+String(Number(process.hrtime.bigint()-t)/1e6)))`;
  const env = { PATH: process.env['PATH'] ?? '', AWS_REGION: 'us-east-1', POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true', ...probe.env };
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env });
  const ms = /READY_MS=([\d.]+)\s*$/.exec(run.stdout)?.[1];
  if (run.status !== 0 || ms === undefined) throw new Error(`first event on ${file} failed: ${run.stderr.slice(0, 500)}`);
  return Number(ms);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/**
 * Bundles and measures every handler and the baseline in one run.
 *
 * @example
 * const result = await runBundleBench({ runs: 15 });
 * result.allWithinTarget; // true when every function is < 500 KB and <= 1.5x the baseline
 */
export async function runBundleBench(options: { runs?: number } = {}): Promise<Result> {
  const runs = options.runs ?? 15;
  const dir = mkdtempSync(join(tmpdir(), 'rekey-bundles-'));
  try {
    const targets: [string, string | { source: string }][] = [['baseline', { source: BASELINE_SOURCE }], ...Object.entries(BUNDLED_HANDLERS).map(([n, e]): [string, string] => [n, join(ROOT, e)])];
    const sizes = new Map<string, { file: string; bytes: number }>();
    for (const [name, entry] of targets) {
      const file = join(dir, `${name}.js`);
      sizes.set(name, { file, bytes: await bundle(entry, file).catch((err: unknown) => Promise.reject(new Error(`bundling ${name} failed: ${String(err).slice(0, 500)}`))) });
    }
    // Interleave runs so that machine noise hits every bundle alike.
    const times = new Map<string, number[]>(targets.map(([n]) => [n, []]));
    const ready = new Map<string, number[]>(targets.map(([n]) => [n, []]));
    for (let i = 0; i < runs; i++) {
      for (const [name] of targets) {
        const file = sizes.get(name)?.file ?? '';
        times.get(name)?.push(loadTimeMs(file));
        ready.get(name)?.push(name === 'baseline' ? loadTimeMs(file) : readyTimeMs(file, READY_PROBES[name]));
      }
    }
    const baseMs = median(times.get('baseline') ?? []);
    const baseReadyMs = median(ready.get('baseline') ?? []);
    const figures = (name: string, entry: string): BundleFigures => {
      const loadMs = median(times.get(name) ?? []);
      const bytes = sizes.get(name)?.bytes ?? 0;
      const loadRatio = baseMs > 0 ? loadMs / baseMs : Number.NaN;
      const readyMs = median(ready.get(name) ?? []);
      const readyRatio = baseReadyMs > 0 ? readyMs / baseReadyMs : Number.NaN;
      return {
        name,
        entry,
        bytes,
        loadMs: Math.round(loadMs * 10) / 10,
        loadRatio: Math.round(loadRatio * 100) / 100,
        readyMs: Math.round(readyMs * 10) / 10,
        readyRatio: Math.round(readyRatio * 100) / 100,
        withinTarget: bytes < MAX_BYTES && loadRatio <= MAX_LOAD_RATIO,
      };
    };
    const baseline = figures('baseline', '(bare Middy + KMS handler)');
    const functions = Object.entries(BUNDLED_HANDLERS).map(([n, e]) => figures(n, e));
    return { runs, node: process.version, maxBytes: MAX_BYTES, maxLoadRatio: MAX_LOAD_RATIO, baseline, functions, allWithinTarget: functions.every((f) => f.withinTarget) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Prints the result as a table. */
export function formatBundleTable(result: Result): string {
  const rows = [result.baseline, ...result.functions].map(
    (f) =>
      `${f.name.padEnd(17)} ${(f.bytes / 1024).toFixed(1).padStart(8)} KB ${f.loadMs.toFixed(1).padStart(8)} ms ${f.loadRatio.toFixed(2).padStart(6)}x ${f.readyMs.toFixed(1).padStart(8)} ms ${f.readyRatio.toFixed(2).padStart(6)}x  ${f.name === 'baseline' ? '' : f.withinTarget ? 'ok' : 'OVER TARGET'}`,
  );
  return [`bundle            minified    load (median of ${result.runs})  ratio  load+first event  ratio`, ...rows].join('\n');
}

if (require.main === module) {
  runBundleBench({ runs: Number(process.env['REKEY_BENCH_RUNS'] ?? 15) })
    .then((result) => {
      console.log(formatBundleTable(result));
      const out = join(ROOT, 'bench', 'results');
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, 'bundles.json'), `${JSON.stringify(result, null, 2)}\n`);
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
