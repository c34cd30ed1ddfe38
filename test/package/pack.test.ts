/**
 * The published package as an application team gets it (issue 13): the sources are copied out of
 * the checkout, built and packed there (`npm pack`, whose prepack script runs the build), and the
 * tarball is installed into a fresh consumer project that cannot see the repository. In the
 * consumer: every subpath loads, the client does not need (or load) the CDK packages, a file
 * importing every subpath type-checks with the repository's own tsc, a CDK app (plain node)
 * synthesizes the stack with every function's code taken from the pre-built bundles the package
 * ships (no TypeScript source, esbuild or ts-node reachable), and the installed `rekey` bin
 * (compiled JavaScript, no ts-node) runs a local round trip.
 *
 * One build, one pack, one install, shared by every test below (about a minute in all).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CURRENTLY_RECOMMENDED_FLAGS } from 'aws-cdk-lib/cx-api';
import { RekeyStack } from '../../infra';
import { scratchDir } from '../support/scratch';
import { REPO_ROOT, consumerDir, copyPackageSources, installTarball, installedVersion, linkPeers, pack, provideNativeBinding, sh, type Packed } from './support/pack-project';

jest.setTimeout(600_000);

const NAME = 'rekey-kms';
const MANIFEST = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
  types: string;
  exports: Record<string, unknown>;
  typesVersions: Record<string, Record<string, string[]>>;
  bin: Record<string, string>;
};

/** Every subpath the package promises, the compiled file it maps to and names it must export. */
const SUBPATHS: Readonly<Record<string, { readonly file: string; readonly names: readonly string[] }>> = {
  [NAME]: { file: 'dist/shared/app/client.js', names: ['createLocalRekeyClient', 'createRekeyClient', 'envelopeFromS3Object', 's3ObjectFromEnvelope'] },
  [`${NAME}/client`]: { file: 'dist/shared/app/client.js', names: ['createLocalRekeyClient', 'createRekeyClient', 'envelopeFromS3Object', 's3ObjectFromEnvelope'] },
  [`${NAME}/middleware`]: { file: 'dist/shared/app/middleware.js', names: ['rekeyMiddleware'] },
  [`${NAME}/construct`]: { file: 'dist/infra/index.js', names: ['KeyringKey', 'Rekey', 'RekeyStack', 'STACK_OUTPUTS', 'acknowledgeNagFindings', 'resolveRekeyProps'] },
  [`${NAME}/cli`]: { file: 'dist/cli/main.js', names: ['run'] },
  [`${NAME}/migrate`]: { file: 'dist/shared/migrate/index.js', names: ['classifyRecord', 'createEsdkDecryptor', 'migrateRecords'] },
};
/** The construct subpath's optional peer dependencies. */
const CDK_PEERS = ['aws-cdk-lib', 'constructs', 'cdk-nag'] as const;
/** Subpaths an application Lambda loads: none of them may need a CDK package. */
const RUNTIME_SUBPATHS = Object.keys(SUBPATHS).filter((s) => s !== `${NAME}/construct`);
/** Subpaths an application Lambda imports (the CLI also runs the local mode, on SQLite). */
const LAMBDA_SUBPATHS = RUNTIME_SUBPATHS.filter((s) => s !== `${NAME}/cli`);

/** What a probe reports about one subpath, loaded in a fresh Node process in the consumer. */
interface SubpathProbe {
  readonly resolved?: string;
  readonly names?: readonly string[];
  readonly error?: string;
  /** The packages (under node_modules) with a file in require.cache after the require. */
  readonly loadedPackages: readonly string[];
  /** Whether each CDK package can be resolved from the consumer at all. */
  readonly peers: Readonly<Record<string, boolean>>;
}

const PROBE = `
const path = require('node:path');
const [spec, peers] = [process.argv[1], JSON.parse(process.argv[2])];
const canResolve = (p) => { try { require.resolve(p); return true; } catch { return false; } };
const report = { peers: Object.fromEntries(peers.map((p) => [p, canResolve(p)])) };
try {
  const m = require(spec);
  report.resolved = path.relative(process.cwd(), require.resolve(spec)).split(path.sep).join('/');
  report.names = Object.keys(m).sort();
} catch (err) {
  report.error = String(err && err.message).split('\\n')[0];
}
const packageOf = (f) => {
  const parts = f.split(path.sep);
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return undefined;
  return parts[at + 1].startsWith('@') ? parts[at + 1] + '/' + parts[at + 2] : parts[at + 1];
};
report.loadedPackages = [...new Set(Object.keys(require.cache).map(packageOf).filter(Boolean))].sort();
process.stdout.write(JSON.stringify(report));
`;

/** Application code of a Lambda: the runtime subpaths, used as the docs show; wrong uses must not compile. */
const LAMBDA_TS = `
import * as root from '${NAME}';
import { run } from '${NAME}/cli';
import { createLocalRekeyClient, createRekeyClient, envelopeFromS3Object, s3ObjectFromEnvelope, type RekeyClient } from '${NAME}/client';
import { rekeyMiddleware } from '${NAME}/middleware';

// An S3 record object in the metadata layout, written and read back (docs/record-stores.md).
export const throughS3Layout = (envelope: Buffer): Buffer => {
  const { body, metadata } = s3ObjectFromEnvelope(envelope, 'metadata');
  return envelopeFromS3Object({ body, metadata });
};

export async function roundTrip(home: string): Promise<string> {
  const rekey: RekeyClient = await createLocalRekeyClient({ home, keyrings: ['pii'] });
  const envelope: Buffer = await rekey.encrypt('pii', 'hello', { context: { tenant: 'acme' } });
  const { plaintext, version } = await rekey.decrypt(envelope, { context: { tenant: 'acme' } });
  await rekey.close();
  return \`\${plaintext.toString('utf8')} v\${version.toFixed(0)}\`;
}
export const fromEnv = (): Promise<RekeyClient> => createRekeyClient({ env: process.env });
export const sameClient: typeof createRekeyClient = root.createRekeyClient;
export const middleware = rekeyMiddleware({ keyring: 'pii', clientOptions: { env: process.env } });
export const cli: (argv: string[]) => Promise<number> = run;

// @ts-expect-error a local client needs its home
export const noHome = (): Promise<RekeyClient> => createLocalRekeyClient({});
// @ts-expect-error a keyring is named by a string
export const badKeyring = (c: RekeyClient): Promise<Buffer> => c.encrypt(42, 'x');
`;

/** A platform team's CDK app code: the construct subpath. */
const CDK_TS = `
import { App } from 'aws-cdk-lib';
import { RekeyStack, type RekeyStackProps } from '${NAME}/construct';

export const props: RekeyStackProps = { keyrings: [{ name: 'pii', rotateEvery: '30d' }] };
export const stack = (): RekeyStack => new RekeyStack(new App(), 'Rekey', props);
// @ts-expect-error the construct's props are typed (no such prop)
export const badProps: RekeyStackProps = { keyrings: [], rotateEverything: true };
`;

/**
 * A platform team's CDK app, plain JavaScript run with node (no ts-node, no cdk CLI), with the
 * feature flags `cdk init` writes into a new project's cdk.json. It places RekeyStack and, once the
 * construct subpath exports it, the Rekey construct in a stack of the team's own; it reports the
 * templates written and whether anything it could bundle TypeScript with is reachable.
 */
const CDK_APP_JS = `
const { App, Stack } = require('aws-cdk-lib');
const { CURRENTLY_RECOMMENDED_FLAGS } = require('aws-cdk-lib/cx-api');
const construct = require('${NAME}/construct');
const canResolve = (p) => { try { require.resolve(p); return true; } catch { return false; } };
const app = new App({ outdir: process.argv[2], context: CURRENTLY_RECOMMENDED_FLAGS });
new construct.RekeyStack(app, 'Rekey', { keyrings: [{ name: 'pii' }] });
if (typeof construct.Rekey === 'function') new construct.Rekey(new Stack(app, 'S'), 'Rekey', { keyrings: [{ name: 'pii' }] });
const assembly = app.synth();
process.stdout.write(JSON.stringify({
  templates: assembly.stacks.map((s) => s.templateFile).sort(),
  rekeyExported: typeof construct.Rekey === 'function',
  reachable: Object.fromEntries(['esbuild', 'typescript', 'ts-node'].map((p) => [p, canResolve(p)])),
}));
`;

/**
 * Loads handler files in a fresh Node process and reports the type of each named export. Run on
 * copies outside any node_modules, so a bundle that still needed a package would fail to load.
 */
const HANDLER_PROBE = `
const checks = JSON.parse(process.argv[1]);
const out = {};
for (const { id, file, name } of checks) {
  try { out[id] = typeof require(file)[name]; } catch (err) { out[id] = 'error: ' + String(err && err.message).split('\\n')[0]; }
}
process.stdout.write(JSON.stringify(out));
process.exit(0);
`;

/** What the consumer's CDK app reported. */
interface SynthReport {
  readonly templates: readonly string[];
  readonly rekeyExported: boolean;
  readonly reachable: Readonly<Record<string, boolean>>;
}

/** A Lambda function of a synthesized template, with where its code asset was staged. */
interface SynthFunction {
  readonly id: string;
  readonly description?: string;
  readonly handler: string;
  readonly s3Key: unknown;
  /** The staged asset folder (undefined when the code is not a zip file asset of the assembly). */
  readonly folder?: string;
}

/** A synthesized template, as far as the comparison below reads it. */
type CfnTemplateJson = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; Metadata?: unknown }> } & Record<string, unknown>;

/** The template with each Lambda function's code location and asset metadata replaced by a marker. */
function withoutFunctionCode(template: CfnTemplateJson): CfnTemplateJson {
  const resources = Object.fromEntries(
    Object.entries(template.Resources).map(([id, r]) => {
      if (r.Type !== 'AWS::Lambda::Function') return [id, r];
      const { Metadata: _metadata, ...rest } = r;
      return [id, { ...rest, Properties: { ...r.Properties, Code: { ...(r.Properties?.['Code'] as object), S3Key: '<asset>' } } }];
    }),
  );
  return { ...template, Resources: resources };
}

/** Every file under `dir`, relative to it, sorted. */
function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** The Lambda functions of every template in a cloud assembly, with their code assets resolved through the asset manifests. */
function synthFunctions(outdir: string, templates: readonly string[]): SynthFunction[] {
  return templates.flatMap((templateFile) => {
    const template = JSON.parse(readFileSync(join(outdir, templateFile), 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const assetsFile = join(outdir, templateFile.replace(/\.template\.json$/, '.assets.json'));
    const assets = (JSON.parse(readFileSync(assetsFile, 'utf8')) as { files: Record<string, { source: { path: string; packaging?: string } }> }).files;
    return Object.entries(template.Resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
      .map(([id, r]) => {
        const code = r.Properties['Code'] as { S3Key?: unknown };
        const hash = typeof code.S3Key === 'string' ? code.S3Key.replace(/\.zip$/, '') : undefined;
        const asset = hash === undefined ? undefined : assets[hash];
        return {
          id: `${templateFile}#${id}`,
          description: r.Properties['Description'] as string | undefined,
          handler: String(r.Properties['Handler']),
          s3Key: code.S3Key,
          ...(asset?.source.packaging === 'zip' ? { folder: join(outdir, asset.source.path) } : {}),
        };
      });
  });
}

/**
 * The resolutions a consumer's tsconfig may use: the exports map (node16: every subpath) and the
 * legacy one (node10, through typesVersions: the runtime subpaths; the construct's entry is the same
 * mapping, checked in package.json, and its aws-cdk-lib types cost ten seconds a program).
 */
const TYPE_CHECKS = {
  node16: { options: { module: 'node16', moduleResolution: 'node16' }, files: ['lambda.ts', 'cdk.ts'] },
  node10: { options: { module: 'commonjs', moduleResolution: 'node10', ignoreDeprecations: '6.0' }, files: ['lambda.ts'] },
} as const;

describe(`the ${NAME} package (npm pack, installed into a fresh project)`, () => {
  let packed: Packed;
  let consumer: string;
  let distBefore: boolean;
  /** Probes taken before the CDK peers are linked into the consumer. */
  const withoutPeers = new Map<string, SubpathProbe>();

  function probe(spec: string): SubpathProbe {
    return JSON.parse(sh(process.execPath, ['-e', PROBE, spec, JSON.stringify(CDK_PEERS)], { cwd: consumer }).stdout) as SubpathProbe;
  }

  beforeAll(() => {
    distBefore = existsSync(join(REPO_ROOT, 'dist'));
    const source = scratchDir('rekey-pack-src-');
    copyPackageSources(source);
    packed = pack(source, join(source, 'out'));
    consumer = consumerDir();
    installTarball(consumer, packed.tarball);
    provideNativeBinding(consumer);
    for (const spec of Object.keys(SUBPATHS)) withoutPeers.set(spec, probe(spec));
    linkPeers(consumer, CDK_PEERS);
  });

  afterAll(() => {
    if (consumer !== undefined) rmSync(consumer, { recursive: true, force: true });
  });

  describe('package.json', () => {
    it('exports exactly the promised subpaths, each with types and a CommonJS default, plus package.json', () => {
      // Assess
      const expected = Object.fromEntries(
        Object.entries(SUBPATHS).map(([spec, { file }]) => [spec === NAME ? '.' : `.${spec.slice(NAME.length)}`, { types: `./${file.replace(/\.js$/, '.d.ts')}`, default: `./${file}` }]),
      );
      expect(MANIFEST.exports).toEqual({ ...expected, './package.json': './package.json' });
      expect(MANIFEST.bin).toEqual({ rekey: 'dist/bin/rekey.js' });
    });

    it('maps every subpath for legacy (node10) TypeScript resolution to the same declarations (typesVersions)', () => {
      // Assess
      const expected = Object.fromEntries(Object.entries(SUBPATHS).filter(([spec]) => spec !== NAME).map(([spec, { file }]) => [spec.slice(NAME.length + 1), [`./${file.replace(/\.js$/, '.d.ts')}`]]));
      expect(MANIFEST.typesVersions).toEqual({ '*': expected });
      expect(MANIFEST.types).toBe(`./${SUBPATHS[NAME]!.file.replace(/\.js$/, '.d.ts')}`);
    });
  });

  describe('the tarball', () => {
    it('holds every subpath as JavaScript with its declarations, and the compiled bin', () => {
      // Prepare
      const paths = new Set(packed.files.map((f) => f.path));
      const needed = [...new Set(Object.values(SUBPATHS).flatMap(({ file }) => [file, file.replace(/\.js$/, '.d.ts')])), 'dist/bin/rekey.js', 'package.json', 'README.md'];

      // Assess
      expect(needed.filter((p) => !paths.has(p))).toEqual([]);
    });

    it('holds a pre-built bundle (index.js and its source map, nothing else) for every function handler of the checkout', () => {
      // Prepare
      const handlers = readdirSync(join(REPO_ROOT, 'functions')).filter((d) => existsSync(join(REPO_ROOT, 'functions', d, 'handler.ts'))).sort();
      const shipped = packed.files.map((f) => f.path).filter((p) => p.startsWith('dist/functions/'));

      // Assess
      expect(handlers.length).toBeGreaterThan(0);
      expect(shipped.sort()).toEqual(handlers.flatMap((h) => [`dist/functions/${h}/index.js`, `dist/functions/${h}/index.js.map`]).sort());
    });

    it('lists every pre-built bundle in dist/handler-bundles.json with its size and SHA-256, and the esbuild that built them', () => {
      // Prepare
      const root = join(consumer, 'node_modules', NAME, 'dist');
      const manifest = JSON.parse(readFileSync(join(root, 'handler-bundles.json'), 'utf8')) as {
        esbuild: string;
        handlers: Record<string, { entry: string; folder: string; file: string; bytes: number; sha256: string }>;
      };

      // Assess
      expect(manifest.esbuild).toBe(installedVersion('esbuild'));
      expect(Object.keys(manifest.handlers).sort()).toEqual(readdirSync(join(root, 'functions')).sort());
      for (const [name, h] of Object.entries(manifest.handlers)) {
        const bytes = readFileSync(join(root, h.folder, h.file));
        expect({ name, entry: h.entry, bytes: h.bytes, sha256: h.sha256 }).toEqual({ name, entry: `functions/${name}/handler.ts`, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
      }
    });

    it('ships no TypeScript source, no test, benchmark or ts-node launcher', () => {
      // Assess
      const stray = packed.files.map((f) => f.path).filter((p) => (/\.ts$/.test(p) && !p.endsWith('.d.ts')) || /^(test|bench|bin|cdk\.out|node_modules)\//.test(p) || /(^|\/)tsconfig/.test(p));
      expect(stray).toEqual([]);
      expect(packed.files.filter((f) => f.path.startsWith('dist/')).some((f) => readFileSync(join(consumer, 'node_modules', NAME, f.path), 'utf8').includes("require('ts-node')"))).toBe(false);
    });
  });

  describe('in a consumer without aws-cdk-lib, constructs or cdk-nag', () => {
    it('has none of the CDK packages installed (they are optional peers)', () => {
      // Assess
      for (const spec of Object.keys(SUBPATHS)) expect(withoutPeers.get(spec)?.peers).toEqual({ 'aws-cdk-lib': false, constructs: false, 'cdk-nag': false });
    });

    it.each(RUNTIME_SUBPATHS)('loads %s from its compiled file, with its names, and no CDK code', (spec) => {
      // Assess
      const { file, names } = SUBPATHS[spec]!;
      const got = withoutPeers.get(spec);
      expect(got?.error).toBeUndefined();
      expect(got?.resolved).toBe(`node_modules/${NAME}/${file}`);
      expect(got?.names).toEqual(expect.arrayContaining([...names]));
      expect(got?.loadedPackages.filter((p) => (CDK_PEERS as readonly string[]).includes(p))).toEqual([]);
    });

    it.each(LAMBDA_SUBPATHS)('loads %s without a native module (better-sqlite3 is the local mode\'s)', (spec) => {
      // Assess
      expect(withoutPeers.get(spec)?.loadedPackages).toEqual(expect.arrayContaining([NAME]));
      expect(withoutPeers.get(spec)?.loadedPackages).not.toContain('better-sqlite3');
    });

    it('cannot load the construct subpath, whose peers are missing', () => {
      // Assess
      expect(withoutPeers.get(`${NAME}/construct`)?.error).toMatch(/Cannot find module '(aws-cdk-lib|constructs|cdk-nag)/);
    });
  });

  describe('in a consumer with the CDK peers', () => {
    it('loads the construct subpath with the stack, its props helpers and the output names', () => {
      // Act
      const got = probe(`${NAME}/construct`);

      // Assess
      expect(got.error).toBeUndefined();
      expect(got.resolved).toBe(`node_modules/${NAME}/dist/infra/index.js`);
      expect(got.names).toEqual(expect.arrayContaining([...SUBPATHS[`${NAME}/construct`]!.names]));
    });

    it.each(Object.keys(TYPE_CHECKS) as (keyof typeof TYPE_CHECKS)[])('type-checks application code importing the subpaths (%s resolution)', (kind) => {
      // Prepare
      writeFileSync(join(consumer, 'lambda.ts'), LAMBDA_TS);
      writeFileSync(join(consumer, 'cdk.ts'), CDK_TS);
      const { options, files } = TYPE_CHECKS[kind];
      const compilerOptions = { ...options, target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] };
      writeFileSync(join(consumer, `tsconfig.${kind}.json`), JSON.stringify({ compilerOptions, files }));

      // Act
      const r = sh(join(REPO_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', `tsconfig.${kind}.json`], { cwd: consumer, check: false });

      // Assess
      expect({ code: r.code, out: r.stdout + r.stderr }).toEqual({ code: 0, out: '' });
    });

    it('encrypts and decrypts with the local client of the installed package', () => {
      // Prepare
      const script = `
        const { createLocalRekeyClient } = require('${NAME}/client');
        (async () => {
          const rekey = await createLocalRekeyClient({ home: process.argv[1], keyrings: ['pii'] });
          const envelope = await rekey.encrypt('pii', 'hello', { context: { tenant: 'acme' } });
          const { plaintext } = await rekey.decrypt(envelope, { context: { tenant: 'acme' } });
          await rekey.close();
          process.stdout.write(plaintext.toString('utf8'));
        })().catch((err) => { console.error(err); process.exitCode = 1; });`;

      // Act
      const r = sh(process.execPath, ['-e', script, join(consumer, 'client-home')], { cwd: consumer });

      // Assess
      expect(r.stdout).toBe('hello');
    });
  });

  describe('a CDK app in the consumer (node, the flags of `cdk init`)', () => {
    let report: SynthReport;
    let functions: SynthFunction[];
    const outdir = (): string => join(consumer, 'cdk.out');

    beforeAll(() => {
      writeFileSync(join(consumer, 'app.js'), CDK_APP_JS);
      report = JSON.parse(sh(process.execPath, ['app.js', outdir()], { cwd: consumer }).stdout) as SynthReport;
      functions = synthFunctions(outdir(), report.templates);
    });

    it('synthesizes from the installed package, with nothing to bundle TypeScript with (no esbuild, typescript or ts-node)', () => {
      // Assess
      expect(report.templates).toEqual(report.rekeyExported ? ['Rekey.template.json', 'S.template.json'] : ['Rekey.template.json']);
      expect(report.reachable).toEqual({ esbuild: false, typescript: false, 'ts-node': false });
      expect(functions.length).toBeGreaterThan(0);
    });

    it('gives every Lambda function a zip asset of the assembly, with no TypeScript in it', () => {
      // Assess
      for (const fn of functions) {
        expect({ id: fn.id, s3Key: fn.s3Key, staged: fn.folder !== undefined && existsSync(fn.folder) }).toEqual({ id: fn.id, s3Key: expect.stringMatching(/^[0-9a-f]{64}\.zip$/), staged: true });
        expect({ id: fn.id, ts: listFiles(fn.folder!).filter((f) => /\.(ts|tsx|mts|cts)$/.test(f)) }).toEqual({ id: fn.id, ts: [] });
      }
    });

    it('gives each rekey function exactly the pre-built bundle of its handler from the installed package', () => {
      // Prepare
      const rekeyFns = functions.filter((fn) => fn.description?.startsWith('rekey ') === true);
      const installed = join(consumer, 'node_modules', NAME, 'dist', 'functions');

      // Assess
      expect([...new Set(rekeyFns.map((fn) => fn.description!.slice('rekey '.length)))].sort()).toEqual(readdirSync(installed).sort());
      for (const fn of rekeyFns) {
        const name = fn.description!.slice('rekey '.length);
        expect({ id: fn.id, handler: fn.handler, files: listFiles(fn.folder!) }).toEqual({ id: fn.id, handler: 'index.handler', files: ['index.js', 'index.js.map'] });
        expect(readFileSync(join(fn.folder!, 'index.js')).equals(readFileSync(join(installed, name, 'index.js')))).toBe(true);
      }
    });

    it('synthesizes the same RekeyStack template as the checkout\'s sources, but for the code assets', () => {
      // Prepare: the checkout's stack from its TypeScript, same flags, bundling skipped (only the asset differs).
      const app = new App({ outdir: scratchDir('rekey-pack-repo-out-'), context: { ...CURRENTLY_RECOMMENDED_FLAGS, 'aws:cdk:bundling-stacks': [] } });
      const fromSources = new RekeyStack(app, 'Rekey', { keyrings: [{ name: 'pii' }] });
      const ours = Template.fromStack(fromSources).toJSON() as CfnTemplateJson;
      const theirs = JSON.parse(readFileSync(join(outdir(), 'Rekey.template.json'), 'utf8')) as CfnTemplateJson;

      // Assess
      expect(withoutFunctionCode(theirs)).toEqual(withoutFunctionCode(ours));
    });

    it('loads every function\'s handler file and finds its handler export, from a copy outside any node_modules', () => {
      // Prepare: the copies live in a folder of their own, which no package resolution can see past.
      const isolated = mkdtempSync(join(tmpdir(), 'rekey-pack-assets-'));
      try {
        const checks = functions.map((fn, i) => {
          const dot = fn.handler.lastIndexOf('.');
          const dir = join(isolated, String(i));
          cpSync(fn.folder!, dir, { recursive: true });
          return { id: fn.id, file: join(dir, `${fn.handler.slice(0, dot)}.js`), name: fn.handler.slice(dot + 1) };
        });

        // Act
        const got = JSON.parse(sh(process.execPath, ['-e', HANDLER_PROBE, JSON.stringify(checks)], { cwd: isolated }).stdout) as Record<string, string>;

        // Assess
        expect(got).toEqual(Object.fromEntries(functions.map((fn) => [fn.id, 'function'])));
      } finally {
        rmSync(isolated, { recursive: true, force: true });
      }
    });
  });

  describe('the installed rekey command', () => {
    const bin = (): string => join(consumer, 'node_modules', '.bin', 'rekey');

    it('is the compiled bin and prints the package version', () => {
      // Act
      const r = sh(bin(), ['--version'], { cwd: consumer, check: false });

      // Assess
      expect(readFileSync(bin(), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: `rekey ${MANIFEST.version}\n`, stderr: '' });
    });

    it('starts without any TypeScript tooling: --version and --help load no ts-node, typescript or swc', () => {
      // Prepare: a preload that writes every module file the process loaded when it exits.
      // (Start-up time is measured outside the tests, as figures in the issue note: a test asserts
      // what loads, which does not depend on how busy the machine is.)
      const hook = join(consumer, 'loaded-modules-hook.js');
      writeFileSync(hook, "process.on('exit', () => require('node:fs').writeFileSync(process.env.LOADED_OUT, JSON.stringify(Object.keys(require.cache))));\n");
      const loaded = (args: readonly string[]): { out: string; files: string[] } => {
        const file = join(consumer, `loaded-${args.join('')}.json`);
        const out = sh(bin(), args, { cwd: consumer, env: { ...process.env, NODE_OPTIONS: `--require ${hook}`, LOADED_OUT: file } }).stdout;
        return { out, files: JSON.parse(readFileSync(file, 'utf8')) as string[] };
      };
      // Act
      const version = loaded(['--version']);
      const help = loaded(['--help']);
      // Assess
      expect(version.out).toBe(`rekey ${MANIFEST.version}\n`);
      expect(help.out).toMatch(/Usage/i);
      for (const { files } of [version, help]) {
        expect(files.some((f) => f.includes(`${NAME}/dist/cli/main.js`) || f.endsWith(join('dist', 'cli', 'main.js')))).toBe(true);
        expect(files.filter((f) => /node_modules[\\/](ts-node|typescript|@swc)[\\/]/.test(f) || f.endsWith('.ts'))).toEqual([]);
      }
    });

    it('creates a keyring, encrypts and decrypts in a local home', () => {
      // Prepare
      const home = join(consumer, 'cli-home');
      const plaintext = Buffer.from('4111 1111 1111 1111');

      // Act
      const created = sh(bin(), ['--home', home, 'keyring', 'create', 'pii'], { cwd: consumer });
      const enc = spawnBytes(bin(), ['--home', home, 'encrypt', '--keyring', 'pii', '--context', 'tenant=acme'], plaintext);
      const dec = spawnBytes(bin(), ['--home', home, 'decrypt', '--context', 'tenant=acme'], enc);

      // Assess
      expect(created.stderr).toBe(`created keyring pii with version 1 active in ${home}\nrekey: acted on local home ${home}\n`);
      expect(enc.subarray(0, 2).equals(plaintext.subarray(0, 2))).toBe(false);
      expect(dec.equals(plaintext)).toBe(true);
    });
  });

  it('leaves no dist/ in the checkout (the build ran in the copy)', () => {
    // Assess
    expect(existsSync(join(REPO_ROOT, 'dist'))).toBe(distBefore);
  });
});

/** Runs a command with binary stdin and returns its stdout bytes; a non-zero exit throws. */
function spawnBytes(command: string, args: readonly string[], stdin: Buffer): Buffer {
  const r = spawnSync(command, args, { input: stdin });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${String(r.status)}: ${String(r.stderr)}`);
  return r.stdout;
}
