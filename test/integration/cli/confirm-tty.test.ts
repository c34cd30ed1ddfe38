/**
 * Confirmation of irreversible steps on a real terminal: `revoke` and `keyring delete` run under
 * a pseudo-terminal (util-linux `script`), ask the operator to type the keyring's name, and do
 * nothing unless that name is typed. What the operator types is fed to the terminal only once
 * the prompt is on screen, as a person would.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './support/cli-harness';
import { drawnLines } from './support/pty';
import { TestHome, T0, at } from './support/test-home';

const NOW = new Date(T0).toISOString();

/** What a run on the terminal showed and how it ended. */
interface TypedRun {
  readonly code: number;
  readonly lines: string[];
  /** Whether the prompt appeared (the answer is typed only then). */
  readonly prompted: boolean;
}

/**
 * Runs `rekey <argv>` on a pseudo-terminal 80 columns wide and, once `prompt` is on screen,
 * types `answer` and Enter. Without a prompt nothing is typed; the run ends on its own.
 */
function runTyping(argv: readonly string[], prompt: string, answer: string): Promise<TypedRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm' };
  for (const k of ['REKEY_HOME', 'REKEY_REDIS_URL', 'REKEY_DEBUG']) delete env[k];
  const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
  const command = `stty cols 80 rows 24; ${[process.execPath, join(REPO_ROOT, 'bin', 'rekey.js'), ...argv].map(quote).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let prompted = false;
    const seen = (c: Buffer): void => {
      screen += c.toString('utf8');
      if (!prompted && screen.includes(prompt)) {
        prompted = true;
        child.stdin.write(`${answer}\r`);
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.stdin.on('error', () => undefined);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, lines: drawnLines(screen), prompted }));
  });
}

describe('confirmation on a terminal (local mode)', () => {
  let home: TestHome;
  beforeEach(async () => {
    // Prepare
    home = new TestHome('rekey-confirm-tty-');
    await home.ok(['keyring', 'create', 'pii'], { now: NOW });
  });
  afterEach(() => {
    home.remove();
  });

  describe('revoke', () => {
    const argv = (h: TestHome): string[] => ['--home', h.dir, '--now', at(1), 'revoke', 'pii', '--version', '1', '--reason', 'SEC-9 key exposure'];
    const prompt = "Type 'pii' to go on: ";

    it('asks, and with a wrong answer exits 2 and changes nothing (catalog and audit as before)', async () => {
      // Prepare
      const before = await home.snapshot();

      // Act
      const r = await runTyping(argv(home), prompt, 'pi');

      // Assess
      expect(r.prompted).toBe(true);
      expect(r.lines).toContain(`revoke pii v1 in local home ${home.dir}: this cannot be undone. ${prompt}pi`);
      expect(r.lines[r.lines.length - 1]).toBe("rekey: not confirmed (expected 'pii'); nothing was changed");
      expect(r.lines.some((l) => l.includes('acted on'))).toBe(false);
      expect(r.code).toBe(2);
      expect(await home.snapshot()).toBe(before);
    }, 30_000);

    it('treats Ctrl-D at the prompt as a refusal: exit 2, nothing changed, no acted-on line', async () => {
      // Prepare
      const before = await home.snapshot();

      // Act: Ctrl-D (EOT) instead of an answer closes the prompt.
      const r = await runTyping(argv(home), prompt, '\u0004');

      // Assess
      expect(r.prompted).toBe(true);
      expect(r.lines[r.lines.length - 1]).toBe('rekey: not confirmed (the prompt was closed); nothing was changed');
      expect(r.lines.some((l) => l.includes('acted on'))).toBe(false);
      expect(r.code).toBe(2);
      expect(await home.snapshot()).toBe(before);
    }, 30_000);

    it('revokes once the keyring name is typed', async () => {
      // Act
      const r = await runTyping(argv(home), prompt, 'pii');

      // Assess: revoked at once; exit 5 only says the settle window is still open (rerun to finish)
      expect(r.prompted).toBe(true);
      expect(r.code).toBe(5);
      expect(r.lines.some((l) => /^revoked pii v1; active is now v2; .* v1 is revoked \(rerun to finish\)$/.test(l))).toBe(true);
      expect(r.lines[r.lines.length - 1]).toMatch(/^rekey: revocation of pii v1 is not complete: writers with a cached catalog may write under v1 until /);
      const [status] = (await home.json<{ keyrings: Array<{ versions: Array<{ version: number; state: string; revoked?: { reason: string } }> }> }>(['status', 'pii', '--json'], { now: at(1) })).keyrings;
      expect(status?.versions.find((v) => v.version === 1)).toMatchObject({ state: 'revoked', revoked: { reason: 'SEC-9 key exposure' } });
      expect(home.auditEvents().filter((e) => e.action === 'version.revoked').map((e) => e.version)).toEqual([1]);
    }, 30_000);

    it('does not ask with --yes', async () => {
      // Act
      const r = await runTyping([...argv(home), '--yes'], prompt, 'pii');

      // Assess
      expect(r.prompted).toBe(false);
      expect(r.code).toBe(5);
      expect(r.lines.some((l) => l.includes('cannot be undone'))).toBe(false);
      expect(home.auditEvents().filter((e) => e.action === 'version.revoked')).toHaveLength(1);
    }, 30_000);
  });

  describe('keyring delete', () => {
    const prompt = "Type 'scratch' to go on: ";
    beforeEach(async () => {
      // Prepare: a keyring with no live data
      await home.ok(['keyring', 'create', 'scratch'], { now: NOW });
    });

    it('asks, and with a wrong answer exits 2 and leaves the keyring and the audit as they were', async () => {
      // Prepare
      const before = await home.snapshot();

      // Act
      const r = await runTyping(['--home', home.dir, '--now', at(1), 'keyring', 'delete', 'scratch'], prompt, 'pii');

      // Assess
      expect(r.prompted).toBe(true);
      expect(r.lines).toContain(`delete keyring scratch in local home ${home.dir}: this cannot be undone. ${prompt}pii`);
      expect(r.lines[r.lines.length - 1]).toBe("rekey: not confirmed (expected 'scratch'); nothing was changed");
      expect(r.code).toBe(2);
      expect(await home.snapshot()).toBe(before);
    }, 30_000);

    it('deletes once the keyring name is typed', async () => {
      // Act
      const r = await runTyping(['--home', home.dir, '--now', at(1), 'keyring', 'delete', 'scratch'], prompt, 'scratch');

      // Assess
      expect(r.prompted).toBe(true);
      expect(r.code).toBe(5);
      expect(r.lines).toContain(`rekey: acted on local home ${home.dir}`);
      expect(r.lines[r.lines.length - 1]).toMatch(/^rekey: deleting keyring scratch: writers with a cached catalog may still write until .*; rerun 'rekey keyring delete scratch' after that to finish$/);
      const list = await home.json<Array<{ keyring: string }> | { keyrings: Array<{ keyring: string }> }>(['keyring', 'list', '--json'], { now: at(1) });
      const names = (Array.isArray(list) ? list : list.keyrings).map((k) => k.keyring);
      expect(names).toEqual(['pii']);
    }, 30_000);
  });
});
