/**
 * The runbook's "Recover a destroyed version" steps (docs/operations.md), run literally: on a
 * home where a file was encrypted under `drill` v1 and v1 was then rotated all the way to
 * destroyed (the stranding reproduction, with destruction opted in), every `rekey` line
 * of the subsection's `shell` blocks runs in order, and the file decrypts again. This is the test
 * that would have failed before: `escrow restore` could only write a key file, never put the
 * version back, so the file stayed unreadable.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { buildProgram } from '../../../cli/main';
import { openLocal } from '../../../shared/compose/local/local-services';
import { REPO_ROOT } from './support/cli-harness';
import { resolveCommand } from './support/doc-shell';
import { TestHome, at, expectFailure } from './support/test-home';

interface StatusJson { keyrings: Array<{ versions: Array<{ version: number; state: string }> }> }

const RUNBOOK = readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');

/** The subsection "Recover a destroyed version": from its heading to the next heading of level 2 or 3. */
function recoverySection(markdown: string): string {
  const start = markdown.indexOf('### Recover a destroyed version');
  const rest = markdown.slice(start + 1);
  const end = rest.search(/\n##+ /);
  return start < 0 ? '' : rest.slice(0, end < 0 ? undefined : end);
}

/** Splits a command line into words, honouring double and single quotes. */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

/** The `rekey` lines of the section's `shell` blocks, as argv (without `rekey`). */
function shellLines(section: string): string[][] {
  const lines: string[][] = [];
  for (const block of section.matchAll(/```shell\n([\s\S]*?)```/g)) {
    for (const raw of (block[1] ?? '').split('\n')) {
      const text = raw.trim();
      if (text.startsWith('rekey ')) lines.push(words(text).slice(1));
    }
  }
  return lines;
}

const LINES = shellLines(recoverySection(RUNBOOK));
const LOCAL = LINES.filter((l) => l[0] !== '--aws');
const AWS = LINES.filter((l) => l[0] === '--aws');
const DAY = 86_400;

describe('docs/operations.md: Recover a destroyed version', () => {
  let home: TestHome;
  beforeEach(() => {
    home = new TestHome();
  });
  afterEach(() => {
    home.remove();
  });

  /** Where the runbook's `--in`/`--out` files live for this home. */
  const mapped = (argv: readonly string[]): string[] => argv.map((a, i) => (argv[i - 1] === '--out' || argv[i - 1] === '--in' ? home.path(basename(a)) : a));

  /** A home where `drill` v1 encrypted backup.env and was then destroyed, as the runbook assumes. */
  async function destroyedV1(): Promise<void> {
    const rk = await openLocal({ home: home.dir, clock: () => new Date(at(0)) });
    try {
      await rk.keyrings.createKeyring(
        'drill',
        { rotateEverySeconds: 90 * DAY, graceSeconds: DAY, propagationSeconds: 600, retentionSeconds: DAY, quietSeconds: 7 * DAY, destroyAfterRetention: true },
        { actor: 'cli:test' },
      );
    } finally {
      await rk.close();
    }
    writeFileSync(home.path('plain.txt'), 'the March backup');
    await home.ok(['encrypt', '--keyring', 'drill', '--in', home.path('plain.txt'), '--out', home.path('backup.env')], { now: at(0) });
    await home.ok(['escrow', 'archive', 'drill'], { now: at(0) });
    await home.ok(['rotate', 'drill'], { now: at(0, 1) });
    // promote v2, deprecate v1 after the grace, disable it after the quiet period, verify its
    // escrow, destroy it after the retention
    for (const [day, minute] of [[0, 20], [2, 0], [30, 0]] as const) await home.ok(['tick', '--keyring', 'drill', '--at', at(day, minute)]);
    await home.ok(['escrow', 'verify', 'drill'], { now: at(30, 1) });
    await home.ok(['tick', '--keyring', 'drill', '--at', at(32, 0)]);
  }

  it('has local and AWS lines to run', () => {
    expect(LOCAL.map((l) => resolveCommand(buildProgram(), l).path.join(' '))).toEqual(expect.arrayContaining(['status', 'escrow verify', 'escrow restore', 'decrypt']));
    expect(AWS.map((l) => resolveCommand(buildProgram('aws'), l.slice(1)).path.join(' '))).toEqual(['escrow restore']);
  });

  it('runs every local line in order, and the file encrypted under the destroyed version decrypts again', async () => {
    // Prepare
    await destroyedV1();
    const before = await home.json<StatusJson>(['status', 'drill', '--all', '--json']);
    const stranded = await home.run(['decrypt', '--in', home.path('backup.env')], { now: at(32, 1) });

    // Act
    const outputs: string[] = [];
    for (const argv of LOCAL) {
      const r = await home.run(mapped(argv), { now: at(33) });
      expect({ line: argv.join(' '), code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ line: argv.join(' '), code: 0, stderr: '' });
      outputs.push(r.stdout.toString());
    }

    // Assess
    expect(before.keyrings[0]?.versions.map((v) => [v.version, v.state])).toEqual([
      [1, 'destroyed'],
      [2, 'active'],
    ]);
    expectFailure(stranded, 3, /destroyed/);
    expect(outputs.join('')).toContain('drill v1: restored from escrow (was destroyed)');
    expect(readFileSync(home.path('backup.txt'), 'utf8')).toBe('the March backup');
    const after = await home.json<StatusJson>(['status', 'drill', '--all', '--json']);
    expect(after.keyrings[0]?.versions.find((v) => v.version === 1)?.state).toBe('deprecated');
    const audit = home.auditEvents().filter((e) => e['keyring'] === 'drill');
    expect(audit.filter((e) => e['action'] === 'version.restored')).toEqual([expect.objectContaining({ version: 1, reason: 'INC-88 March backup unreadable', details: expect.objectContaining({ from: 'destroyed' }) })]);
    expect(audit.filter((e) => e['action'] === 'escrow.restored')).toEqual([expect.objectContaining({ version: 1, details: expect.objectContaining({ check: 'kcv' }) })]);
    expect(audit.filter((e) => e['action'] === 'escrow.exported').map((e) => e['version'])).toEqual([1, 2]);
  });

  it('is safe to rerun: a second restore prints already restored and changes nothing', async () => {
    // Prepare
    await destroyedV1();
    await home.ok(['escrow', 'restore', 'drill', '--version', '1', '--yes'], { now: at(33) });
    const before = await home.snapshot();

    // Act
    const again = await home.ok(['escrow', 'restore', 'drill', '--version', '1'], { now: at(34) });

    // Assess
    expect(again.stdout.toString()).toBe('drill v1: already restored\n');
    expect(await home.snapshot()).toBe(before);
  });

  it('refuses a revoked version, a version that still has its key and one without a record, changing nothing', async () => {
    // Prepare
    await destroyedV1();
    await home.ok(['escrow', 'restore', 'drill', '--version', '1', '--yes'], { now: at(33) });
    const before = await home.snapshot();

    // Act
    const active = await home.run(['escrow', 'restore', 'drill', '--version', '2'], { now: at(33) });
    const unknown = await home.run(['escrow', 'restore', 'nobody', '--version', '1'], { now: at(33) });

    // Assess
    expectFailure(active, 5, /still has its key/);
    expectFailure(unknown, 4);
    expect(await home.snapshot()).toBe(before);
  });
});
