/**
 * Scratch folders for tests, kept out of the OS temp folder: each test run gets its own folder
 * under <repo>/node_modules/.cache/rekey-scratch/, which jest's globalTeardown removes whole,
 * so a run leaves nothing behind even when a test fails before its own cleanup.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Where every run's scratch folder lives. */
export const SCRATCH_BASE = join(__dirname, '..', '..', 'node_modules', '.cache', 'rekey-scratch');

/** The environment variable that hands the run's folder from globalSetup to the test workers. */
export const SCRATCH_ROOT_ENV = 'REKEY_TEST_SCRATCH_ROOT';

const RUN_PREFIX = 'run-';

/**
 * The scratch folder of this test run: the one globalSetup made; outside jest (a script that
 * imports a test helper), one per process.
 */
export function scratchRoot(): string {
  return process.env[SCRATCH_ROOT_ENV] ?? join(SCRATCH_BASE, `${RUN_PREFIX}${process.pid}`);
}

/**
 * Makes a fresh, empty folder for one test; its name starts with `prefix`.
 *
 * @example
 * const home = scratchDir('rekey-home-'); // <repo>/node_modules/.cache/rekey-scratch/run-123/rekey-home-Ab12Cd
 */
export function scratchDir(prefix: string): string {
  const root = scratchRoot();
  mkdirSync(root, { recursive: true });
  return mkdtempSync(join(root, prefix));
}

/**
 * Starts a run's scratch space (globalSetup): names the folder for the workers, and removes the
 * folders of earlier runs whose process is gone (a run killed before its teardown). Runs that are
 * still going, in the same checkout, keep theirs.
 */
export function beginScratchRun(pid = process.pid): string {
  const root = join(SCRATCH_BASE, `${RUN_PREFIX}${pid}`);
  process.env[SCRATCH_ROOT_ENV] = root;
  let entries: string[] = [];
  try {
    entries = readdirSync(SCRATCH_BASE);
  } catch {
    // no scratch space yet
  }
  for (const name of entries) {
    const owner = Number(name.slice(RUN_PREFIX.length));
    if (name.startsWith(RUN_PREFIX) && owner !== pid && !isAlive(owner)) rmSync(join(SCRATCH_BASE, name), { recursive: true, force: true });
  }
  return root;
}

/** Removes this run's scratch folder (globalTeardown). */
export function endScratchRun(): void {
  rmSync(scratchRoot(), { recursive: true, force: true });
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
