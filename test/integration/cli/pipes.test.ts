import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './support/cli-harness';
import { TestHome, T0 } from './support/test-home';

const NOW = new Date(T0).toISOString();
const KEYRINGS = 100;

/** Runs `sh -c script` in the repository and returns its exit code and stderr (stdout is head's). */
function sh(script: string, env: Readonly<Record<string, string>> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

describe('rekey writing into a pipe that closes early (`| head -1`)', () => {
  const home = new TestHome();
  const statusFile = home.path('rekey-status');
  beforeAll(async () => {
    // Enough keyrings that the audit trail and the status pass the pipe's 64 KiB buffer, so the
    // reader is gone while rekey still writes.
    for (let i = 0; i < KEYRINGS; i++) await home.ok(['keyring', 'create', `k${i}`, '--unmanaged', 'files,backups,exports,warehouse,archive'], { now: NOW });
    for (let i = 0; i < KEYRINGS; i++) await home.ok(['rotate', `k${i}`, '--reason', 'x'.repeat(900)], { now: NOW });
  }, 120_000);
  afterAll(() => {
    home.remove();
  });

  it.each([
    ['audit', `node bin/rekey.js --home "$REKEY_TEST_HOME" audit`],
    ['status', `node bin/rekey.js --home "$REKEY_TEST_HOME" status --now ${NOW}`],
    ['--help', 'node bin/rekey.js --help'],
    ['status --json', `node bin/rekey.js --home "$REKEY_TEST_HOME" status --json --now ${NOW}`],
  ])('`rekey %s | head -1` ends quietly with exit 0', async (_label, command) => {
    // Act
    const r = await sh(`(${command}; echo $? > "$REKEY_TEST_STATUS") | head -1`, { REKEY_TEST_HOME: home.dir, REKEY_TEST_STATUS: statusFile });

    // Assess
    expect({ code: r.code, stderr: r.stderr, lines: r.stdout.split('\n').length }).toEqual({ code: 0, stderr: '', lines: 2 });
    expect(readFileSync(statusFile, 'utf8').trim()).toBe('0');
  }, 30_000);

  it('still reports a real failure writing standard output', async () => {
    // Act: stdout on a full device, which is not a closed pipe.
    const r = await sh(`node bin/rekey.js --home "$REKEY_TEST_HOME" audit > /dev/full`, { REKEY_TEST_HOME: home.dir });

    // Assess
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^rekey: cannot write standard output: ENOSPC/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }, 30_000);

  it('audit really writes more than the pipe holds (the pipe closed early)', () => {
    // Assess
    expect(readFileSync(join(home.dir, 'audit.jsonl')).length).toBeGreaterThan(128 * 1024);
  });
});
