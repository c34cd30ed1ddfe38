/**
 * The steps of the package test, each a real command: copy the package's sources out of the
 * checkout, `npm pack` the copy (its prepack script builds dist/ there, never in the checkout),
 * and install the tarball into a fresh consumer project that cannot see the repository.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The checkout under test. */
export const REPO_ROOT = join(__dirname, '..', '..', '..');

/**
 * What the build and the package need: the shipped sources, the build scripts (scripts/: the
 * handler bundles), the two tsconfigs, the manifest and its docs.
 */
const PACKAGE_SOURCES = /^(bin|cli|functions|infra|shared|scripts|docs)\/|^(package\.json|package-lock\.json|tsconfig\.json|tsconfig\.build\.json|README\.md)$/;

/** What a command printed, and how it ended. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command to its end; with `check` (the default) a non-zero exit throws with everything it
 * printed, so a failed step names itself instead of failing a later assertion.
 */
export function sh(command: string, args: readonly string[], options: SpawnSyncOptions & { check?: boolean } = {}): CommandResult {
  const { check = true, ...spawnOptions } = options;
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...spawnOptions });
  const result = { code: r.status ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  if (r.error !== undefined) throw r.error;
  if (check && result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
  }
  return result;
}

/**
 * Copies the package's sources as git sees them (tracked and new files, ignored ones left out) into
 * `dest`, and links the checkout's node_modules there so the build finds its compiler and types.
 */
export function copyPackageSources(dest: string): number {
  const listed = sh('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT }).stdout.split('\0');
  // A tracked file deleted in the working tree is still listed by --cached.
  const files = listed.filter((f) => PACKAGE_SOURCES.test(f) && existsSync(join(REPO_ROOT, f)));
  for (const f of files) {
    mkdirSync(dirname(join(dest, f)), { recursive: true });
    copyFileSync(join(REPO_ROOT, f), join(dest, f));
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dest, 'node_modules'), 'dir');
  return files.length;
}

/** One file of the tarball, as `npm pack --json` lists it. */
export interface PackedFile {
  readonly path: string;
  readonly size: number;
}

/** What `npm pack` made. */
export interface Packed {
  readonly tarball: string;
  readonly files: readonly PackedFile[];
  readonly size: number;
  readonly unpackedSize: number;
}

/** `npm pack` in `projectDir` (prepack builds dist/ there), the tarball written to `outDir`. */
export function pack(projectDir: string, outDir: string): Packed {
  mkdirSync(outDir, { recursive: true });
  const { stdout } = sh('npm', ['pack', '--json', '--pack-destination', outDir], { cwd: projectDir });
  // The prepack script's own output may come first: the report is the JSON array that ends stdout.
  const [report] = JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as { filename: string; files: PackedFile[]; size: number; unpackedSize: number }[];
  if (report === undefined) throw new Error(`npm pack printed no report:\n${stdout}`);
  return { tarball: join(outDir, report.filename), files: report.files, size: report.size, unpackedSize: report.unpackedSize };
}

const CONSUMER_PREFIX = 'rekey-pack-consumer-';

/**
 * A fresh folder for the consumer project, in the OS temp folder and not in the run's scratch
 * folder: the scratch folder lies inside the checkout's node_modules, and Node and tsc look for
 * packages in every parent folder, so a consumer there would find the repository's own packages
 * (aws-cdk-lib, every devDependency) and a missing dependency of the package would go unseen.
 * Its name carries the pid, so a run killed before its cleanup has its folder removed by the next.
 */
export function consumerDir(pid = process.pid): string {
  for (const name of readdirSync(tmpdir())) {
    const owner = Number(name.slice(CONSUMER_PREFIX.length).split('-')[0]);
    if (name.startsWith(CONSUMER_PREFIX) && owner !== pid && !isAlive(owner)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  return mkdtempSync(join(tmpdir(), `${CONSUMER_PREFIX}${pid}-`));
}

/**
 * Installs the tarball into a new consumer project, with the type packages an application's own
 * TypeScript build has (@types/node, @types/aws-lambda: the versions the checkout uses).
 *
 * Everything comes from the npm cache that `npm ci` filled. Install scripts are not run: the one
 * dependency with a native part (better-sqlite3) would download or compile it, which the checkout
 * has already done for this Node; see {@link provideNativeBinding}.
 */
export function installTarball(consumer: string, tarball: string): CommandResult {
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  const types = ['@types/node', '@types/aws-lambda'].map((name) => `${name}@${installedVersion(name)}`);
  return sh('npm', ['install', tarball, ...types, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: consumer });
}

/** The version of a package in the checkout's node_modules. */
export function installedVersion(name: string, root = REPO_ROOT): string {
  return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Gives the consumer's better-sqlite3 the compiled binding the checkout's install built, which is
 * what its install script would have produced (same version, same Node); refuses a version mismatch.
 */
export function provideNativeBinding(consumer: string): void {
  const [ours, theirs] = [installedVersion('better-sqlite3'), installedVersion('better-sqlite3', consumer)];
  if (ours !== theirs) throw new Error(`better-sqlite3 ${theirs} in the consumer, ${ours} in the checkout: no binding to reuse`);
  const rel = join('node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
  mkdirSync(dirname(join(consumer, rel)), { recursive: true });
  copyFileSync(join(REPO_ROOT, rel), join(consumer, rel));
}

/**
 * Makes the construct subpath's optional peers available to the consumer (links to the checkout's
 * installed copies), as a CDK app that depends on aws-cdk-lib, constructs and cdk-nag has them.
 */
export function linkPeers(consumer: string, peers: readonly string[]): void {
  for (const name of peers) symlinkSync(join(REPO_ROOT, 'node_modules', name), join(consumer, 'node_modules', name), 'dir');
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
