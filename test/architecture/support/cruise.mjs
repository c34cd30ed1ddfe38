// Runs dependency-cruiser's `cruise` API with the repository's rules (.dependency-cruiser.cjs) on
// one or more trees, and prints their violations as JSON: dependency-cruiser is ESM-only, and
// jest runs the tests as CommonJS, so boundaries.test.ts calls this in a child process (one, as
// loading dependency-cruiser and TypeScript is most of the time).
//
//   node cruise.mjs '[{"baseDir": "<dir>", "paths": ["shared", ...]}, ...]'   (paths relative to baseDir)
//
// A tree other than the repository (a fixture) is cruised without the repository's tsconfig and
// cache, which describe the repository, not the fixture.
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { cruise } from 'dependency-cruiser';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const repo = resolve(import.meta.dirname, '..', '..', '..');
const config = createRequire(import.meta.url)(join(repo, '.dependency-cruiser.cjs'));

async function cruiseTree({ baseDir, paths }) {
  const isRepo = resolve(baseDir) === repo;
  const options = isRepo
    ? { ...config.options, tsConfig: { fileName: join(repo, config.options.tsConfig.fileName) } }
    : { ...config.options, tsConfig: undefined, cache: false };
  const result = await cruise(
    paths,
    { validate: true, outputType: 'json', baseDir: resolve(baseDir), ruleSet: { forbidden: config.forbidden, options } },
    {},
    { tsConfig: isRepo ? extractTSConfig(options.tsConfig.fileName) : undefined },
  );
  const { summary } = typeof result.output === 'string' ? JSON.parse(result.output) : result.output;
  const violations = summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }));
  return { modules: summary.totalCruised, violations };
}

const reports = [];
for (const job of JSON.parse(process.argv[2])) reports.push(await cruiseTree(job));
process.stdout.write(JSON.stringify(reports));
