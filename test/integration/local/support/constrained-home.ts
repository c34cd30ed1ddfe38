/**
 * Real read-only and full-disk homes for tests, by mechanisms that work as root (CI) and as a
 * normal user. `chmod -w` does not stop root, so as root a home is put on its own small tmpfs,
 * which can be remounted read-only (EROFS) or filled up (ENOSPC). Without mount rights:
 * - a normal user gets a read-only home by `chmod -R a-w` (EACCES), and
 * - root runs the CLI as `nobody` over a copy of the home owned by `nobody` and made read-only.
 * REKEY_TEST_HOME_MECHANISM forces one mechanism (to exercise the fallbacks on a machine that
 * could mount).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, cpSync, lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../../../support/scratch';
import { runCli, type CliResult, type CliRunOptions } from '../../cli/support/cli-harness';

/** How a home was made read-only. */
export type ReadOnlyMechanism = 'tmpfs-ro' | 'chmod' | 'nobody';

const REPO_ROOT = join(__dirname, '..', '..', '..', '..');
const NOBODY = 65534;

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

let mountable: boolean | undefined;

/** Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, outside a locked container). */
export function canMountTmpfs(): boolean {
  if (mountable !== undefined) return mountable;
  if (!isRoot()) return (mountable = false);
  const probe = scratchDir('mount-probe-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    mountable = true;
  } catch {
    mountable = false;
  }
  rmSync(probe, { recursive: true, force: true });
  return mountable;
}

/** A small tmpfs of its own, mounted on a fresh scratch folder. */
export class Tmpfs {
  public readonly dir: string;
  private mounted = true;

  public constructor(sizeBytes: number) {
    this.dir = scratchDir('tmpfs-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', this.dir]);
  }

  /** Remounts it read-only (every write fails with EROFS, root's too). */
  public readOnly(): void {
    execFileSync('mount', ['-o', 'remount,ro', this.dir]);
  }

  /** Remounts it writable. */
  public writable(): void {
    execFileSync('mount', ['-o', 'remount,rw', this.dir]);
  }

  /** Unmounts it and removes the mount point. */
  public dispose(): void {
    // Lazy: a test that failed may still hold a file open in it; the mount goes once that closes.
    if (this.mounted) execFileSync('umount', ['-l', this.dir]);
    this.mounted = false;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A read-only copy of a home and a way to run the CLI over it. */
export interface ReadOnlyHome {
  readonly dir: string;
  readonly mechanism: ReadOnlyMechanism;
  /** Runs `rekey --home <dir> [--now] <args>` as the user the mechanism needs. */
  run(args: readonly string[], options?: CliRunOptions & { now?: string }): Promise<CliResult>;
  /** Undoes the mechanism and removes the copy. */
  dispose(): void;
}

function chmodTree(dir: string, fileMode: number, dirMode: number): void {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    const stat = lstatSync(full);
    if (stat.isDirectory()) chmodTree(full, fileMode, dirMode);
    else if (stat.isFile()) chmodSync(full, stat.mode & fileMode);
  }
  chmodSync(dir, dirMode);
}

function chownTree(dir: string, uid: number): void {
  chownSync(dir, uid, uid);
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (lstatSync(full).isDirectory()) chownTree(full, uid);
    else chownSync(full, uid, uid);
  }
}

function chooseMechanism(): ReadOnlyMechanism {
  const forced = process.env.REKEY_TEST_HOME_MECHANISM as ReadOnlyMechanism | undefined;
  if (forced !== undefined) return forced;
  if (canMountTmpfs()) return 'tmpfs-ro';
  return isRoot() ? 'nobody' : 'chmod';
}

/**
 * Copies `source` (a home made by the CLI, closed) to a place that is then made read-only for
 * the user the CLI runs as. Modes are copied as they are, so a test can check none changes.
 */
export function readOnlyCopy(source: string, mechanism: ReadOnlyMechanism = chooseMechanism()): ReadOnlyHome {
  if (mechanism === 'tmpfs-ro') {
    const fs = new Tmpfs(8 * 1024 * 1024);
    const dir = join(fs.dir, 'home');
    cpSync(source, dir, { recursive: true, preserveTimestamps: true });
    chmodSync(dir, lstatSync(source).mode & 0o777);
    fs.readOnly();
    return { dir, mechanism, run: (args, o = {}) => runLocal(dir, args, o), dispose: () => fs.dispose() };
  }
  const parent = scratchDir('ro-home-');
  const dir = join(parent, 'home');
  cpSync(source, dir, { recursive: true, preserveTimestamps: true });
  if (mechanism === 'chmod') {
    // Write bits off everywhere: the owner keeps read (and search on folders).
    chmodTree(dir, 0o7555, 0o500);
    return {
      dir,
      mechanism,
      run: (args, o = {}) => runLocal(dir, args, o),
      dispose: () => {
        chmodTree(dir, 0o7777, 0o700);
        rmSync(parent, { recursive: true, force: true });
      },
    };
  }
  // nobody: owns the copy (a home is owner-only) but may not write it.
  chownTree(dir, NOBODY);
  chmodTree(dir, 0o7555, 0o500);
  chmodSync(parent, 0o755);
  openPathFor(parent);
  return {
    dir,
    mechanism,
    run: (args, o = {}) => runAs(NOBODY, ['--home', dir, ...(o.now === undefined ? [] : ['--now', o.now]), ...args], o),
    dispose: () => rmSync(parent, { recursive: true, force: true }),
  };
}

function runLocal(dir: string, args: readonly string[], options: CliRunOptions & { now?: string }): Promise<CliResult> {
  return runCli(['--home', dir, ...(options.now === undefined ? [] : ['--now', options.now]), ...args], options);
}

/** Lets another user reach `dir`: every folder above it gets search permission for others. */
function openPathFor(dir: string): void {
  let current = dir;
  while (current !== '/' && current.length > 1) {
    const mode = lstatSync(current).mode & 0o777;
    if ((mode & 0o001) === 0) chmodSync(current, mode | 0o001);
    current = join(current, '..');
  }
}

/** Runs the real launcher as another user (root only), like spawnCli. */
function runAs(uid: number, argv: readonly string[], options: CliRunOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, HOME: '/tmp', ...options.env } as NodeJS.ProcessEnv;
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'rekey.js'), ...argv], { cwd: '/', env, uid, gid: uid, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: err }));
    child.stdin.end(options.stdin ?? Buffer.alloc(0));
  });
}
