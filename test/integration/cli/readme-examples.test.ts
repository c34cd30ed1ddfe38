/**
 * The README's CLI section, run literally: every line of its `sh` blocks runs in order in a fresh
 * empty folder (the tour's home is the default `./.rekey` there), each with the exit code it
 * documents, and the prose that repeats the CLI (the files: protection sentence, the exit codes,
 * the npx warning, the AWS lines) is checked against the CLI itself.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildProgram } from '../../../cli/main';
import { EXIT_CODES } from '../../../cli/errors-to-exit';
import { scratchDir } from '../../support/scratch';
import { REPO_ROOT } from './support/cli-harness';
import { docSteps, fencedBlocks, flatText, resolveCommand, runDocStep, section, shellWords } from './support/doc-shell';
import { expectFailure } from './support/test-home';

const RUNBOOK = readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');
const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const CLI_SECTION = section(README, '## The `rekey` CLI');
const STEPS = docSteps(fencedBlocks(CLI_SECTION));
const REKEY_STEPS = STEPS.filter((s) => s.kind === 'rekey');

/** The sentence `status` prints under `files:`, unwrapped from its 80-column lines. */
function filesSentence(status: string): string {
  const lines = status.split('\n');
  const start = lines.findIndex((l) => l.trim().startsWith('files: '));
  if (start < 0) return '';
  const out = [lines[start] ?? ''];
  for (const l of lines.slice(start + 1)) {
    if (!/^ {4}\S/.test(l)) break;
    out.push(l);
  }
  return flatText(out.join('\n'));
}

describe('README.md: the rekey CLI section', () => {
  describe('the tour', () => {
    it('runs every line in order in an empty folder with the documented exit code', async () => {
      // Arrange
      const dir = scratchDir('rekey-readme-');
      const outputs = new Map<string, string>();

      // Act / Assess (each line depends on the state the previous ones left)
      for (const step of STEPS) {
        const r = await runDocStep(step, dir);
        if (step.kind !== 'rekey') continue;
        if (step.exitCode === 0) {
          const reasons = r.stderr.split('\n').filter((l) => /^(rekey: (?!acted on )|error:)/.test(l));
          expect({ line: step.text, code: r.code, reasons }).toEqual({ line: step.text, code: 0, reasons: [] });
        } else {
          expectFailure({ ...r, stdout: Buffer.alloc(0) }, step.exitCode);
        }
        outputs.set(step.argv.slice(0, 2).join(' '), r.stdout.toString('utf8'));
      }

      // Assess: the tour ended where the README says, in the default home of that folder.
      expect(REKEY_STEPS.length).toBeGreaterThanOrEqual(12);
      expect(existsSync(join(dir, '.rekey', 'catalog.db'))).toBe(true);
      expect(outputs.get('decrypt --context')).toBe('card 4111');
      expect(outputs.get('sweep pii')).toMatch(/v1 rewrap: done 2\b/);
      const audit = readFileSync(join(dir, '.rekey', 'audit.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as { action: string; simulated?: boolean });
      // The tour runs in real time (no simulated step whose future timestamps would hold the revocation's rerun).
      expect(audit.filter((e) => e.simulated === true)).toEqual([]);
      expect(audit.map((e) => e.action)).toContain('version.activated');
      expect(audit.map((e) => e.action)).toEqual(expect.arrayContaining(['keyring.policy-updated', 'revocation.revoked', 'revocation.incomplete']));
    });

    it('shows the commands the README promises, with local commands and options that exist', () => {
      // Arrange
      const program = buildProgram();

      // Act
      const resolved = REKEY_STEPS.map((s) => ({ line: s.text, ...resolveCommand(program, s.argv) }));

      // Assess
      for (const r of resolved) expect({ line: r.line, found: r.path.length > 0, unknownOptions: r.unknownOptions }).toEqual({ line: r.line, found: true, unknownOptions: [] });
      const shown = resolved.map((r) => r.path.join(' '));
      for (const needed of ['keyring create', 'encrypt', 'decrypt', 'records import', 'rotate', 'tick', 'status', 'plan', 'keyring update', 'sweep', 'revoke', 'audit']) {
        expect({ needed, shown: shown.includes(needed) }).toEqual({ needed, shown: true });
      }
      expect(REKEY_STEPS.find((s) => s.argv[0] === 'tick')?.argv).toEqual(['tick']);
      expect(REKEY_STEPS.find((s) => s.argv[0] === 'revoke')?.argv).toContain('--yes');
    });

    it('runs the CLI the way it says: node bin/rekey.js from the checkout', () => {
      // Arrange
      const alias = STEPS.find((s) => s.text.startsWith('alias rekey='));

      // Assess
      expect(alias?.text).toMatch(/^alias rekey="node \$PWD\/bin\/rekey\.js"/);
      expect(existsSync(join(REPO_ROOT, 'bin', 'rekey.js'))).toBe(true);
    });
  });

  describe('what the prose repeats from the CLI', () => {
    it('quotes the files: sentence that status prints for a keyring used by rekey encrypt', async () => {
      // Arrange
      const dir = scratchDir('rekey-readme-files-');
      const steps = docSteps(['rekey keyring create pii\n', "printf 'x' | rekey encrypt pii > x.rk\n", 'rekey status pii\n']);

      // Act
      const results = [];
      for (const step of steps) results.push(await runDocStep(step, dir));
      const sentence = filesSentence(results[2]?.stdout.toString('utf8') ?? '');

      // Assess
      expect(results.map((r) => r.code)).toEqual([0, 0, 0]);
      expect(sentence).toMatch(/^files: envelopes made by 'rekey encrypt' /);
      expect(flatText(CLI_SECTION)).toContain(sentence);
    });

    it('lists exactly the exit codes of cli/errors-to-exit.ts', () => {
      // Arrange
      const rows = [...CLI_SECTION.matchAll(/^\| (\d+) \| (.+) \|$/gm)].map((m) => ({ code: Number(m[1]), meaning: m[2] }));

      // Assess
      expect(rows).toEqual(EXIT_CODES.map((e) => ({ code: e.code, meaning: e.meaning })));
    });

    it('never suggests npx rekey except in the sentence that warns against it', () => {
      // Arrange
      const paragraphs = README.split(/\n\s*\n/).map(flatText);

      // Act
      const mentioning = paragraphs.filter((p) => /npx\s+rekey/.test(p));

      // Assess
      expect(mentioning).toHaveLength(1);
      expect(mentioning[0]).toMatch(/^Do not type `npx rekey`: the name `rekey` on the npm registry belongs to an unrelated package/);
    });

    it('names only commands and options that AWS mode has in its rekey --aws lines', () => {
      // Arrange
      const program = buildProgram('aws');
      const lines = fencedBlocks(README)
        .flatMap((b) => b.split('\n'))
        .map((l) => l.trim().split(/\s+#\s*/, 1)[0] ?? '')
        .filter((l) => l.startsWith('rekey --aws '));

      // Act
      const resolved = lines.map((l) => ({ line: l, ...resolveCommand(program, shellWords(l).slice(2)) }));

      // Assess
      expect(lines.length).toBeGreaterThan(0);
      for (const r of resolved) expect({ line: r.line, found: r.path.length > 0, unknownOptions: r.unknownOptions }).toEqual({ line: r.line, found: true, unknownOptions: [] });
    });
  });
});

describe('docs/operations.md: Import records in bulk (its bash blocks)', () => {
  it('imports a folder and JSON Lines, and a rerun imports only what is missing', async () => {
    // Arrange
    const dir = scratchDir('rekey-import-doc-');
    const steps = docSteps(fencedBlocks(section(RUNBOOK, '## Import records in bulk'), 'bash'));
    const create = await runDocStep(docSteps(['rekey keyring create pii\n'])[0]!, dir);

    // Act
    const results = [];
    for (const step of steps) results.push({ step, r: await runDocStep(step, dir) });

    // Assess
    expect(create.code).toBe(0);
    expect(steps.filter((s) => s.kind === 'rekey').length).toBeGreaterThanOrEqual(4);
    for (const { step, r } of results) expect({ line: step.text, code: r.code }).toEqual({ line: step.text, code: step.exitCode });
    const rerun = results.find(({ step }) => step.argv.includes('--json'));
    expect(JSON.parse(rerun?.r.stdout.toString('utf8') ?? '{}')).toMatchObject({ imported: 0, existing: 2, failed: 0 });
    const list = results.find(({ step }) => step.argv[1] === 'list')?.r.stdout.toString('utf8') ?? '';
    expect(list.match(/^user-10[0-2] /gm)).toEqual(['user-100 ', 'user-101 ', 'user-102 ']);
  });
});
