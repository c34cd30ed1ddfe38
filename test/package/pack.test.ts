/**
 * The published package as an application team gets it (issue 13): the sources are copied out of
 * the checkout, built and packed there (`npm pack`, whose prepack script runs the build), and the
 * tarball is installed into a fresh consumer project that cannot see the repository. In the
 * consumer: every subpath loads, the client does not need (or load) the CDK packages, a file
 * importing every subpath type-checks with the repository's own tsc, and the installed `rekey`
 * bin (compiled JavaScript, no ts-node) runs a local round trip.
 *
 * One build, one pack, one install, shared by every test below (about a minute in all).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../support/scratch';
import { REPO_ROOT, consumerDir, copyPackageSources, installTarball, linkPeers, pack, provideNativeBinding, sh, type Packed } from './support/pack-project';

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
  [NAME]: { file: 'dist/shared/app/client.js', names: ['createLocalRekeyClient', 'createRekeyClient'] },
  [`${NAME}/client`]: { file: 'dist/shared/app/client.js', names: ['createLocalRekeyClient', 'createRekeyClient'] },
  [`${NAME}/middleware`]: { file: 'dist/shared/app/middleware.js', names: ['rekeyMiddleware'] },
  [`${NAME}/construct`]: { file: 'dist/infra/index.js', names: ['KeyringKey', 'RekeyStack', 'STACK_OUTPUTS', 'acknowledgeNagFindings', 'resolveRekeyProps'] },
  [`${NAME}/cli`]: { file: 'dist/cli/main.js', names: ['run'] },
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
import { createLocalRekeyClient, createRekeyClient, type RekeyClient } from '${NAME}/client';
import { rekeyMiddleware } from '${NAME}/middleware';

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

  describe('the installed rekey command', () => {
    const bin = (): string => join(consumer, 'node_modules', '.bin', 'rekey');

    it('is the compiled bin and prints the package version', () => {
      // Act
      const r = sh(bin(), ['--version'], { cwd: consumer, check: false });

      // Assess
      expect(readFileSync(bin(), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: `rekey ${MANIFEST.version}\n`, stderr: '' });
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
