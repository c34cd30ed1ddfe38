/**
 * The layer rules (.dependency-cruiser.cjs) hold on the real tree, and each one fails a
 * deliberate wrong-way import: a fixture tree that mirrors the repository's paths is cruised with
 * the same rules (dependency-cruiser's `cruise` API, in one child process: it is ESM-only).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { scratchDir } from '../support/scratch';

interface Violation {
  readonly rule: string;
  readonly from: string;
  readonly to: string;
}

interface CruiseReport {
  readonly modules: number;
  readonly violations: readonly Violation[];
}

const REPO = join(__dirname, '..', '..');
const RUNNER = join(__dirname, 'support', 'cruise.mjs');

const TREE = ['shared', 'cli', 'functions', 'infra', 'bin'];

async function cruiseTrees(baseDirs: readonly string[]): Promise<CruiseReport[]> {
  const jobs = JSON.stringify(baseDirs.map((baseDir) => ({ baseDir, paths: TREE })));
  const { stdout } = await promisify(execFile)(process.execPath, [RUNNER, jobs], { cwd: REPO, maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as CruiseReport[];
}

/** Every file of the fixture; the comments name the rule an import breaks. */
const FIXTURE: Readonly<Record<string, string>> = {
  'package.json': JSON.stringify({ name: 'fixture', dependencies: { ioredis: '1.0.0' }, devDependencies: { 'fast-check': '1.0.0' } }),
  'node_modules/ioredis/package.json': JSON.stringify({ name: 'ioredis', version: '1.0.0', main: 'index.js' }),
  'node_modules/ioredis/index.js': 'module.exports = {};\n',
  'node_modules/fast-check/package.json': JSON.stringify({ name: 'fast-check', version: '1.0.0', main: 'index.js' }),
  'node_modules/fast-check/index.js': 'module.exports = {};\n',
  // The entry point that reaches every module but the two dead ones.
  'bin/demo.ts': [
    'shared/envelope/format', 'shared/catalog/model', 'shared/vocabulary/names', 'shared/ports/key-vault',
    'shared/keys/a', 'shared/cache/encrypted-cache', 'shared/usecases/rotate', 'shared/lambda/create-handler',
    'shared/compose/local/local-services', 'shared/adapters/redis/redis-cache-store', 'cli/main', 'infra/rekey-stack', 'functions/rotate/handler',
  ].map((p) => `import '../${p}';\n`).join(''),
  // core-not-to-outer-layers: the envelope reaches for an AWS adapter.
  'shared/envelope/format.ts': "import { vault } from '../adapters/aws/kms-key-vault';\nexport const format = vault;\n",
  'shared/adapters/aws/kms-key-vault.ts': "export const vault = 1;\n",
  // adapters-not-to-upper: an adapter calls a use case.
  'shared/adapters/redis/redis-cache-store.ts': "import { rotate } from '../../usecases/rotate';\nexport const store = rotate;\n",
  // shared-not-to-outer: core imports the CLI.
  'shared/catalog/model.ts': "import { main } from '../../cli/main';\nexport const model = main;\n",
  // vocabulary-is-low: the vocabulary imports the catalog.
  'shared/vocabulary/names.ts': "import { duration } from '../catalog/duration';\nexport const names = duration;\n",
  'shared/catalog/duration.ts': "export const duration = 1;\n",
  // ports-are-types: a port runs core code (a value import); not-to-unresolvable: a missing file.
  'shared/ports/key-vault.ts': "import { duration } from '../catalog/duration';\nimport { gone } from './missing';\nexport const port = duration + gone;\n",
  // no-circular: two core modules import each other (reported once, at the first module of the cycle).
  'shared/keys/a.ts': "import { b } from './b';\nexport const a = () => b;\n",
  'shared/keys/b.ts': "import { a } from './a';\nexport const b = () => a;\n",
  // core-no-npm: core imports a Redis client.
  'shared/cache/encrypted-cache.ts': "import * as redis from 'ioredis';\nexport const cache = redis;\n",
  // usecases-over-ports: a use case names a composition root. The type-only import of a port is fine.
  'shared/usecases/rotate.ts': "import type { port } from '../ports/key-vault';\nimport { services } from '../compose/aws/rotate-services';\nexport const rotate: typeof port = services;\n",
  'shared/compose/aws/rotate-services.ts': "export const services = 1;\n",
  // lambda-kit-is-generic: the kit wires its own services.
  'shared/lambda/create-handler.ts': "import { services } from '../compose/aws/rotate-services';\nexport const createHandler = services;\n",
  // local-stays-local: the local composition root pulls AWS composition.
  'shared/compose/local/local-services.ts': "import { services } from '../aws/rotate-services';\nexport const local = services;\n",
  // cli-not-to-infra-or-kit and no-dev-deps-in-shipped: the CLI imports CDK code and a devDependency.
  'cli/main.ts': "import { outputs } from '../infra/outputs';\nimport * as fc from 'fast-check';\nexport const main = [outputs, fc];\n",
  'infra/outputs.ts': "export const outputs = 1;\n",
  // infra-no-runtime: the CDK stack imports an adapter.
  'infra/rekey-stack.ts': "import { vault } from '../shared/adapters/aws/kms-key-vault';\nexport const stack = vault;\n",
  // functions-are-thin: a handler reaches an adapter directly.
  'functions/rotate/handler.ts': "import { vault } from '../../shared/adapters/aws/kms-key-vault';\nimport { rotate } from '../../shared/usecases/rotate';\nexport const handler = [vault, rotate];\n",
  // shared-reachable: nothing reaches it; no-orphans: it imports nothing and nothing imports it.
  'shared/catalog/dead.ts': "import { duration } from './duration';\nexport const dead = duration;\n",
  'shared/catalog/lonely.ts': "export const lonely = 1;\n",
};

const EXPECTED: readonly Violation[] = [
  { rule: 'core-not-to-outer-layers', from: 'shared/envelope/format.ts', to: 'shared/adapters/aws/kms-key-vault.ts' },
  { rule: 'adapters-not-to-upper', from: 'shared/adapters/redis/redis-cache-store.ts', to: 'shared/usecases/rotate.ts' },
  { rule: 'shared-not-to-outer', from: 'shared/catalog/model.ts', to: 'cli/main.ts' },
  { rule: 'vocabulary-is-low', from: 'shared/vocabulary/names.ts', to: 'shared/catalog/duration.ts' },
  { rule: 'ports-are-types', from: 'shared/ports/key-vault.ts', to: 'shared/catalog/duration.ts' },
  { rule: 'not-to-unresolvable', from: 'shared/ports/key-vault.ts', to: './missing' },
  { rule: 'no-circular', from: 'shared/keys/a.ts', to: 'shared/keys/b.ts' },
  { rule: 'core-no-npm', from: 'shared/cache/encrypted-cache.ts', to: 'node_modules/ioredis/index.js' },
  { rule: 'usecases-over-ports', from: 'shared/usecases/rotate.ts', to: 'shared/compose/aws/rotate-services.ts' },
  { rule: 'lambda-kit-is-generic', from: 'shared/lambda/create-handler.ts', to: 'shared/compose/aws/rotate-services.ts' },
  { rule: 'local-stays-local', from: 'shared/compose/local/local-services.ts', to: 'shared/compose/aws/rotate-services.ts' },
  { rule: 'cli-not-to-infra-or-kit', from: 'cli/main.ts', to: 'infra/outputs.ts' },
  { rule: 'no-dev-deps-in-shipped', from: 'cli/main.ts', to: 'node_modules/fast-check/index.js' },
  { rule: 'infra-no-runtime', from: 'infra/rekey-stack.ts', to: 'shared/adapters/aws/kms-key-vault.ts' },
  { rule: 'functions-are-thin', from: 'functions/rotate/handler.ts', to: 'shared/adapters/aws/kms-key-vault.ts' },
  { rule: 'shared-reachable', from: 'shared/catalog/dead.ts', to: 'shared/catalog/dead.ts' },
  { rule: 'shared-reachable', from: 'shared/catalog/lonely.ts', to: 'shared/catalog/lonely.ts' },
  { rule: 'no-orphans', from: 'shared/catalog/lonely.ts', to: 'shared/catalog/lonely.ts' },
];

const byRuleAndPath = (a: Violation, b: Violation): number =>
  `${a.rule} ${a.from} ${a.to}`.localeCompare(`${b.rule} ${b.from} ${b.to}`);

describe('dependency-cruiser rules', () => {
  let reports: Promise<CruiseReport[]> | undefined;
  /** Both trees in one child process, on first use. */
  const cruised = (): Promise<CruiseReport[]> => {
    if (reports === undefined) {
      const base = scratchDir('boundaries-');
      for (const [path, text] of Object.entries(FIXTURE)) {
        mkdirSync(dirname(join(base, path)), { recursive: true });
        writeFileSync(join(base, path), text);
      }
      reports = cruiseTrees([base, REPO]);
    }
    return reports;
  };

  it('fail each deliberate wrong-way import of the fixture with its rule, and nothing else', async () => {
    // Act
    const [fixture] = await cruised();
    // Assess
    expect([...fixture!.violations].sort(byRuleAndPath)).toEqual([...EXPECTED].sort(byRuleAndPath));
  });

  it('pass on the real tree', async () => {
    // Act
    const [, repository] = await cruised();
    // Assess
    expect(repository!.modules).toBeGreaterThan(100);
    expect(repository!.violations).toEqual([]);
  });
});
