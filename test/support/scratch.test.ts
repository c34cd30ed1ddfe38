/** Scratch folders live under node_modules/.cache, one folder per test run, never in the OS temp folder. */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { SCRATCH_BASE, SCRATCH_ROOT_ENV, beginScratchRun, scratchDir, scratchRoot } from './scratch';

describe('scratchDir', () => {
  it('makes a fresh empty folder with the prefix inside the run folder, outside the OS temp folder', () => {
    // Act
    const a = scratchDir('rekey-home-');
    const b = scratchDir('rekey-home-');
    // Assess
    expect(a).not.toBe(b);
    expect(readdirSync(a)).toEqual([]);
    expect(relative(scratchRoot(), a)).toMatch(/^rekey-home-[A-Za-z0-9]{6}$/);
    // Outside the OS temp folder, unless the checkout itself lives there (a clone into /tmp).
    const repoInTmp = !relative(tmpdir(), scratchRoot()).startsWith('..');
    expect(repoInTmp || relative(tmpdir(), a).startsWith('..')).toBe(true);
  });

  it('uses the run folder that globalSetup named for the workers', () => {
    // Assess
    expect(scratchRoot()).toBe(process.env[SCRATCH_ROOT_ENV]);
    expect(relative(SCRATCH_BASE, scratchRoot())).toMatch(/^run-\d+$/);
  });
});

describe('beginScratchRun', () => {
  const saved = process.env[SCRATCH_ROOT_ENV];
  afterEach(() => {
    process.env[SCRATCH_ROOT_ENV] = saved;
  });

  it('removes the folders of dead runs and keeps those of live runs', () => {
    // Prepare: pid 2^22 + 1 is above Linux's pid_max, so no process has it.
    const dead = join(SCRATCH_BASE, `run-${2 ** 22 + 1}`);
    const live = join(SCRATCH_BASE, `run-${process.ppid}`);
    mkdirSync(dead, { recursive: true });
    const liveExisted = existsSync(live);
    mkdirSync(live, { recursive: true });
    // Act
    const root = beginScratchRun(process.pid);
    // Assess
    expect(root).toBe(join(SCRATCH_BASE, `run-${process.pid}`));
    expect(process.env[SCRATCH_ROOT_ENV]).toBe(root);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    if (!liveExisted) rmSync(live, { recursive: true, force: true });
  });
});
