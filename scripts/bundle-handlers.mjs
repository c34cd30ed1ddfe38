#!/usr/bin/env node
/**
 * Pre-bundles every rekey Lambda handler into the built package (issue 13): the published
 * tarball holds dist/ only, no TypeScript sources, so the construct in a consumer's CDK app
 * cannot bundle functions/<name>/handler.ts the way it does in the checkout. This script, run by
 * `npm run build` after tsc (and so by prepack), writes dist/functions/<name>/index.js (plus its
 * source map), exactly what NodejsFunction writes into its asset: the construct
 * (infra/constructs/rekey-function.ts) uses that folder as the function's code when it exists.
 *
 * The options are read from the compiled infra/defaults.js (ESBUILD_OPTIONS, FUNCTION_ENTRIES,
 * FUNCTION_BUNDLING), the same objects the checkout's NodejsFunctions receive, so the shipped
 * bundles cannot drift from what `cdk synth` builds in the repository.
 *
 * It also writes dist/handler-bundles.json (outside the asset folders, which must hold the bundle
 * only): per handler its entry, byte size and the SHA-256 of index.js, with the esbuild version and
 * options, so a reviewer of a tarball can tell which build it ships and check it byte for byte.
 *
 * Usage: node scripts/bundle-handlers.mjs [outDir]   (default: dist, next to this script's parent)
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = resolve(root, process.argv[2] ?? 'dist');
const require = createRequire(import.meta.url);

const defaultsJs = join(outDir, 'infra', 'defaults.js');
if (!existsSync(defaultsJs)) {
  console.error(`bundle-handlers: ${defaultsJs} is missing: run tsc -p tsconfig.build.json first`);
  process.exit(1);
}
const { ESBUILD_OPTIONS, FUNCTION_BUNDLING, FUNCTION_ENTRIES } = require(defaultsJs);
const { build } = require('esbuild');

/** NodejsFunction's log level names are esbuild's. */
const logLevel = FUNCTION_BUNDLING.logLevel ?? 'warning';

const started = Date.now();
const built = await Promise.all(
  Object.entries(FUNCTION_ENTRIES).map(async ([name, entry]) => {
    const folder = join(outDir, dirname(entry));
    // The asset is the whole folder: only the bundle and its map may be in it (tsc emits no
    // functions/ since tsconfig.build.json leaves them out; a stale build could have).
    if (existsSync(folder)) for (const f of readdirSync(folder)) rmSync(join(folder, f), { recursive: true, force: true });
    mkdirSync(folder, { recursive: true });
    const outfile = join(folder, 'index.js');
    const result = await build({
      entryPoints: [join(root, entry)],
      outfile,
      bundle: ESBUILD_OPTIONS.bundle,
      platform: ESBUILD_OPTIONS.platform,
      format: ESBUILD_OPTIONS.format,
      target: ESBUILD_OPTIONS.target,
      minify: ESBUILD_OPTIONS.minify,
      sourcemap: ESBUILD_OPTIONS.sourcemap,
      sourcesContent: ESBUILD_OPTIONS.sourcesContent,
      mainFields: [...ESBUILD_OPTIONS.mainFields],
      external: [...ESBUILD_OPTIONS.external],
      absWorkingDir: root,
      logLevel,
      metafile: true,
    });
    const bytes = Object.entries(result.metafile.outputs).find(([p]) => p.endsWith('index.js'))?.[1].bytes ?? 0;
    const sha256 = createHash('sha256').update(readFileSync(outfile)).digest('hex');
    return { name, entry, bytes, sha256 };
  }),
);
const manifest = {
  schema: 1,
  esbuild: require('esbuild/package.json').version,
  options: { ...ESBUILD_OPTIONS, logLevel },
  handlers: Object.fromEntries(built.map(({ name, entry, bytes, sha256 }) => [name, { entry, folder: dirname(entry), file: 'index.js', bytes, sha256 }])),
};
writeFileSync(join(outDir, 'handler-bundles.json'), `${JSON.stringify(manifest, null, 2)}\n`);
const kb = built.map(({ name, bytes }) => `${name} ${(bytes / 1024).toFixed(0)} KB`).join(', ');
console.error(`bundle-handlers: ${built.length} handlers into ${join(outDir, 'functions')} in ${Date.now() - started} ms (${kb})`);
