/**
 * Synthesizes the real rekey app in-process for the twin, once per source state: the cloud
 * assembly goes to node_modules/.cache/rekey-twin/<hash>/ (never the OS temp dir), where the
 * hash covers infra/, functions/, shared/, package-lock.json, cdk.json and the context. Several
 * test files, jest workers and redeploys in one run therefore pay for esbuild bundling once.
 *
 * Concurrency: a worker takes `<hash>.lock` (O_EXCL) and synthesizes into a private folder that
 * it renames into place when complete; the others wait for the finished folder. A lock older
 * than {@link STALE_LOCK_MS} (a crashed worker) is broken.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import type { CfnTemplate } from './standup/template';

/** The project root (holds cdk.json and package-lock.json). */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
/** Where synthesized assemblies are cached. */
export const SYNTH_CACHE_DIR = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'rekey-twin');

const SOURCE_DIRS = ['infra', 'functions', 'shared'];
const SOURCE_FILES = ['package-lock.json', 'cdk.json'];
const STALE_LOCK_MS = 5 * 60_000;
const WAIT_MS = 10 * 60_000;

/** Options of {@link synthesizeTwin}. */
export interface SynthesizeOptions {
  /** Shallow overrides of the `rekey` context key of cdk.json (e.g. `{ keyrings: [...] }`). */
  readonly context?: Record<string, unknown>;
  /** Stack name (the `rekey:stackName` context key); default `Rekey`. */
  readonly stackName?: string;
}

/** A synthesized cloud assembly. */
export interface SynthesizedTwin {
  /** Absolute path of the cloud assembly (cdk.out equivalent). */
  readonly outdir: string;
  /** The stack's template, parsed. */
  readonly template: CfnTemplate;
  readonly stackName: string;
  /** Whether this call reused a cached assembly. */
  readonly cached: boolean;
  /** Wall time of this call, ms. */
  readonly millis: number;
}

interface CdkJson {
  readonly context?: Record<string, unknown>;
}

/** The context `cdk synth` would pass: cdk.json's, the overrides, and the CLI's own defaults. */
export function twinContext(opts: SynthesizeOptions = {}): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as CdkJson;
  const base = cdkJson.context ?? {};
  const rekey = { ...((base['rekey'] as Record<string, unknown> | undefined) ?? {}), ...(opts.context ?? {}) };
  return {
    ...base,
    rekey,
    'rekey:stackName': opts.stackName ?? 'Rekey',
    // The CLI sets these (aws-cdk's exec of the app); without the asset metadata the template has
    // no aws:asset:path and an in-process App would not match what `cdk synth` writes.
    'aws:cdk:enable-path-metadata': true,
    'aws:cdk:enable-asset-metadata': true,
    'aws:cdk:version-reporting': true,
  };
}

function hashSources(context: Record<string, unknown>): string {
  const h = createHash('sha256');
  const walk = (rel: string): void => {
    const abs = path.join(PROJECT_ROOT, rel);
    if (!existsSync(abs)) return;
    if (statSync(abs).isDirectory()) {
      for (const entry of readdirSync(abs).sort()) walk(path.join(rel, entry));
      return;
    }
    h.update(rel).update('\0').update(readFileSync(abs)).update('\0');
  };
  for (const d of SOURCE_DIRS) walk(d);
  for (const f of SOURCE_FILES) walk(f);
  h.update(JSON.stringify(context));
  return h.digest('hex').slice(0, 24);
}

function readResult(outdir: string, stackName: string): CfnTemplate {
  return JSON.parse(readFileSync(path.join(outdir, `${stackName}.template.json`), 'utf8')) as CfnTemplate;
}

function tryLock(lock: string): boolean {
  try {
    const fd = openSync(lock, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    try {
      if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { force: true });
    } catch {
      // The holder released it between our open and stat: try again on the next round.
    }
    return false;
  }
}

async function synthInto(dir: string, context: Record<string, unknown>): Promise<void> {
  // Loaded only on a cache miss: aws-cdk-lib costs seconds to require.
  const { App } = await import('aws-cdk-lib');
  const { buildApp } = await import('../../infra/app');
  const app = new App({ outdir: dir, context, analyticsReporting: true });
  // CDK announces every bundle on stderr ("Bundling asset ...", while the functions are
  // constructed): expected, so held back, and printed only if the synthesis fails.
  const held: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    held.push(Buffer.from(chunk).toString());
    (rest.find((r) => typeof r === 'function') as (() => void) | undefined)?.();
    return true;
  }) as typeof process.stderr.write;
  try {
    buildApp(app);
    app.synth();
  } catch (err) {
    process.stderr.write = write;
    write(held.join(''));
    throw err;
  } finally {
    process.stderr.write = write;
  }
}

/**
 * Synthesizes the real app (infra/app.ts `buildApp`) with cdk.json's context plus `opts`, and
 * NodejsFunction bundling by the local esbuild, reusing a cached assembly when the sources,
 * lock file and context are unchanged.
 *
 * @example
 * const { outdir, template } = await synthesizeTwin({ context: { keyrings: [{ name: 'pii' }] } });
 */
export async function synthesizeTwin(opts: SynthesizeOptions = {}): Promise<SynthesizedTwin> {
  const started = Date.now();
  const stackName = opts.stackName ?? 'Rekey';
  const context = twinContext(opts);
  const hash = hashSources(context);
  const outdir = path.join(SYNTH_CACHE_DIR, hash);
  const lock = `${outdir}.lock`;
  const finish = (cached: boolean): SynthesizedTwin => ({ outdir, template: readResult(outdir, stackName), stackName, cached, millis: Date.now() - started });
  if (existsSync(path.join(outdir, 'manifest.json'))) return finish(true);

  mkdirSync(SYNTH_CACHE_DIR, { recursive: true });
  const deadline = Date.now() + WAIT_MS;
  while (!tryLock(lock)) {
    if (existsSync(path.join(outdir, 'manifest.json'))) return finish(true);
    if (Date.now() > deadline) throw new Error(`synthesizeTwin: gave up waiting for ${lock}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  try {
    if (existsSync(path.join(outdir, 'manifest.json'))) return finish(true);
    const work = `${outdir}.tmp-${process.pid}-${Date.now()}`;
    try {
      await synthInto(work, context);
      rmSync(outdir, { recursive: true, force: true });
      renameSync(work, outdir);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    return finish(false);
  } finally {
    rmSync(lock, { force: true });
  }
}
