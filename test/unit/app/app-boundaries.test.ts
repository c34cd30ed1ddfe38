/**
 * The application package's layer rules (.dependency-cruiser.cjs: app-*) each fail a deliberate
 * wrong-way import of a small fixture tree, cruised with the repository's rules by the same
 * runner as test/architecture/boundaries.test.ts; the allowed forms (type-only SDK imports,
 * dynamic imports of the local backends) pass.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { scratchDir } from '../../support/scratch';

const REPO = join(__dirname, '..', '..', '..');
const RUNNER = join(REPO, 'test', 'architecture', 'support', 'cruise.mjs');

const pkg = (name: string): Record<string, string> => ({
  [`node_modules/${name}/package.json`]: JSON.stringify({ name, version: '1.0.0', main: 'index.js' }),
  [`node_modules/${name}/index.js`]: 'module.exports = {};\n',
});

const FIXTURE: Readonly<Record<string, string>> = {
  'package.json': JSON.stringify({ name: 'fixture', dependencies: { '@aws-sdk/client-kms': '1.0.0', '@aws-sdk/client-s3': '1.0.0' } }),
  ...pkg('@aws-sdk/client-kms'),
  ...pkg('@aws-sdk/client-s3'),
  'shared/app/index.ts': "export { client } from './client';\nexport { later } from './lazy';\n",
  // app-through-composition (SDK value import, adapter import) and app-loads-local-lazily (static import).
  // A type-only SDK import and a dynamic import of the stack-outputs reader are allowed.
  'shared/app/client.ts': [
    "import { KMSClient } from '@aws-sdk/client-kms';",
    "import type { S3Client } from '@aws-sdk/client-s3';",
    "import { vault } from '../adapters/aws/kms-key-vault';",
    "import { openLocal } from '../compose/local/local-services';",
    'export const client = async (s3?: S3Client) => [KMSClient, vault, openLocal, s3, await import(\'../compose/aws/stack-outputs-reader\')];',
    '',
  ].join('\n'),
  'shared/app/lazy.ts': "export const later = () => import('../compose/local/discard-metrics');\n",
  'shared/adapters/aws/kms-key-vault.ts': 'export const vault = 1;\n',
  'shared/compose/local/local-services.ts': 'export const openLocal = 1;\n',
  'shared/compose/local/discard-metrics.ts': 'export const discard = 1;\n',
  'shared/compose/aws/stack-outputs-reader.ts': 'export const read = 1;\n',
  // app-is-the-outermost-library: rekey's own code imports the application package.
  'shared/catalog/index.ts': "export { model } from './model';\n",
  'shared/catalog/model.ts': "import { client } from '../app/client';\nexport const model = client;\n",
};

describe('application package layer rules', () => {
  it('fail each wrong-way import of the fixture with its rule, and nothing else', async () => {
    // Prepare
    const base = scratchDir('app-boundaries-');
    for (const [path, text] of Object.entries(FIXTURE)) {
      mkdirSync(dirname(join(base, path)), { recursive: true });
      writeFileSync(join(base, path), text);
    }
    // Act
    const { stdout } = await promisify(execFile)(process.execPath, [RUNNER, JSON.stringify([{ baseDir: base, paths: ['shared'] }])], { cwd: REPO, maxBuffer: 16 * 1024 * 1024 });
    const [report] = JSON.parse(stdout) as Array<{ violations: Array<{ rule: string; from: string; to: string }> }>;
    // Assess
    const key = (v: { rule: string; from: string; to: string }): string => `${v.rule} ${v.from} ${v.to}`;
    expect(report!.violations.map(key).sort()).toEqual(
      [
        'app-is-the-outermost-library shared/catalog/model.ts shared/app/client.ts',
        'app-through-composition shared/app/client.ts node_modules/@aws-sdk/client-kms/index.js',
        'app-through-composition shared/app/client.ts shared/adapters/aws/kms-key-vault.ts',
        'app-loads-local-lazily shared/app/client.ts shared/compose/local/local-services.ts',
      ].sort(),
    );
  });
});
