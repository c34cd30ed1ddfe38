import { readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { buildProgram } from '../../../cli/main';
import { REPO_ROOT } from './support/cli-harness';
import { resolveCommand, shellWords } from './support/doc-shell';
import { T0, TestHome, expectFailure } from './support/test-home';

interface RunbookLine {
  readonly argv: string[];
  readonly exitCode: number;
  /** How long the runbook says to wait before this line (`# after 1 minute`), in milliseconds. */
  readonly waitMs: number;
  readonly text: string;
}

const UNIT_MS: Readonly<Record<string, number>> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** `after N minute(s)|hour(s)|day(s)` in a line's comment, in milliseconds (0 when absent). */
function waitOf(comment: string): number {
  const m = /(?:^|;\s*)after (\d+) (minute|hour|day)s?\b/.exec(comment);
  return m ? Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0) : 0;
}

/** Every `rekey ...` line of the runbook's `sh` blocks, in order, with its expected exit code. */
function runbookLines(markdown: string): RunbookLine[] {
  const lines: RunbookLine[] = [];
  const blocks = markdown.matchAll(/```sh\n([\s\S]*?)```/g);
  for (const block of blocks) {
    for (const raw of (block[1] ?? '').split('\n')) {
      const text = raw.trim();
      if (!text.startsWith('rekey ')) continue;
      const [command, comment] = text.split(/\s+#\s*/, 2);
      const exits = /(?:^|;\s*)exits (\d)/.exec(comment ?? '');
      lines.push({ argv: shellWords(command ?? '').slice(1), exitCode: exits ? Number(exits[1]) : 0, waitMs: waitOf(comment ?? ''), text });
    }
  }
  return lines;
}

const RUNBOOK = readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');
const LINES = runbookLines(RUNBOOK);
const LOCAL = LINES.filter((l) => l.argv[0] !== '--aws');
const AWS = LINES.filter((l) => l.argv[0] === '--aws');

describe('docs/operations.md (the runbook)', () => {
  let home: TestHome;
  beforeAll(() => {
    home = new TestHome();
  });
  afterAll(() => {
    home.remove();
  });

  describe('local commands', () => {
    it('shows a command for every local subcommand that operators use', () => {
      // Prepare
      const shown = new Set(LOCAL.map((l) => resolveCommand(buildProgram(), l.argv).path.join(' ')));

      // Assess
      for (const needed of ['keyring create', 'records put', 'rotate', 'status', 'tick', 'freeze', 'unfreeze', 'revoke', 'sweep', 'audit', 'escrow archive', 'escrow verify', 'escrow restore', 'keyring list', 'cache stats']) {
        expect({ needed, shown: shown.has(needed) }).toEqual({ needed, shown: true });
      }
    });

    it('runs every local command line in order against a fresh home with the documented exit code', async () => {
      // Prepare
      const outputs: string[] = [];
      // The runbook's waits (`# after 1 minute`) pass on a clock of the test's own: every line runs
      // with the global --now, starting at a fixed instant, and a wait moves it on before its line.
      let now = T0;
      const waited: string[] = [];

      // Act / Assess (each line depends on the state the previous ones left)
      for (const line of LOCAL) {
        const argv = line.argv.map((a, i) => (line.argv[i - 1] === '--out' || line.argv[i - 1] === '--in' ? home.path(basename(a)) : a));
        now += line.waitMs;
        if (line.waitMs > 0) waited.push(line.text);
        const r = await home.run(argv, { stdin: Buffer.from(`value of ${line.text}`), now: new Date(now).toISOString() });
        if (line.exitCode === 0) {
          expect({ line: line.text, code: r.code, stderr: /^(rekey:(?! acted on )|error:)/.test(r.stderr) ? r.stderr : '' }).toEqual({ line: line.text, code: 0, stderr: '' });
        } else {
          expectFailure({ ...r, stdout: Buffer.alloc(0) }, line.exitCode);
        }
        outputs.push(r.stdout.toString());
      }

      // Assess: the runbook's story ended where it says it does.
      expect(LOCAL.length).toBeGreaterThan(20);
      const at = { now: new Date(now).toISOString() };
      const status = await home.json<{ keyrings: Array<{ versions: Array<{ version: number; state: string; records: number }> }> }>(['status', 'pii', '--json'], at);
      const v1 = status.keyrings[0]?.versions.find((v) => v.version === 1);
      expect(v1).toMatchObject({ state: 'disabled', records: 0 });
      expect(statSync(home.path('pii-v1.key')).mode & 0o777).toBe(0o600);
      // The re-run a minute after the revocation completed it; the tick a quiet period later disabled v1.
      expect(waited).toEqual([expect.stringMatching(/^rekey revoke pii --version 1 /), expect.stringMatching(/^rekey tick --keyring pii/), expect.stringMatching(/^rekey keyring delete pilot /)]);
      expect(outputs.join('')).toContain('v1 is revoked\n');
      expect(outputs.join('')).toMatch(/disable v1/);
      expect((await home.ok(['records', 'get', 'user-42', '--context', 'tenant=acme'], at)).stdout.toString()).toMatch(/^value of rekey records put user-42/);
    });
  });

  describe('AWS-mode commands', () => {
    it('names only commands and options that AWS mode has', () => {
      // Prepare
      const program = buildProgram('aws');

      // Act
      const resolved = AWS.map((l) => ({ line: l.text, ...resolveCommand(program, l.argv.slice(1)) }));

      // Assess
      expect(AWS.length).toBeGreaterThan(0);
      for (const r of resolved) {
        expect({ line: r.line, found: r.path.length > 0, unknownOptions: r.unknownOptions }).toEqual({ line: r.line, found: true, unknownOptions: [] });
      }
    });
  });
});
