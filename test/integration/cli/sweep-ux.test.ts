import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { openLocal } from '../../../shared/compose/local/local-services';
import { REPO_ROOT, spawnCli } from './support/cli-harness';
import { TestHome, T0, at, expectFailure } from './support/test-home';

const NOW = new Date(T0).toISOString();

/** Writes `n` small records straight through the local services (one CLI process each would take minutes). */
async function seed(home: TestHome, n: number): Promise<void> {
  const rk = await openLocal({ home: home.dir, clock: () => new Date(T0), actor: 'test-seed' });
  try {
    for (let i = 0; i < n; i += 1) await rk.recordService.put(`rec-${String(i).padStart(5, '0')}`, 'pii', Buffer.from(`payload ${i}`));
  } finally {
    await rk.close();
  }
}

/** Rotates pii and lets the propagation window and the grace period pass, so v1 is deprecated. */
async function deprecateV1(home: TestHome): Promise<void> {
  await home.ok(['rotate', 'pii'], { now: at(1) });
  await home.ok(['tick'], { now: at(1, 11) });
  await home.ok(['tick'], { now: at(9) });
}

/**
 * Spawns `rekey sweep` with stderr on a pipe, sends one SIGINT once the first progress line
 * appears, and resolves with the exit code and both streams.
 */
function sweepAndInterrupt(home: TestHome, argv: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, REKEY_PROGRESS_INTERVAL_MS: '1' };
    delete env.REKEY_HOME;
    delete env.REKEY_REDIS_URL;
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'rekey.js'), '--home', home.dir, '--now', at(9), ...argv], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (!sent && /sweep pii v1 .*\d+\/3,000/.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('rekey sweep for operators (local mode)', () => {
  let home: TestHome;
  beforeEach(async () => {
    home = new TestHome('rekey-sweep-ux-');
    await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m'], { now: NOW });
  });
  afterEach(() => {
    home.remove();
  });

  it('says so when there is nothing to sweep', async () => {
    // Act
    const r = await home.ok(['sweep', 'pii'], { now: at(1) });

    // Assess
    expect(r.stdout.toString()).toBe('nothing to sweep: no records under old versions of pii\n');
  });

  it('shows the defaults of --rate, --concurrency and --batch in its help', async () => {
    // Act
    const r = await home.run(['sweep', '--help']);

    // Assess
    const help = r.stdout.toString() + r.stderr;
    expect(help).toMatch(/--rate <n>\s+records per second at most \(default: unlimited\)/);
    expect(help).toMatch(/--concurrency <n>\s+records in flight at most \(default: 4\)/);
    expect(help).toMatch(/--batch <n>[\s\S]*\(default: 100\)/);
  });

  it('prints a plain progress line with rate, elapsed and ETA when stderr is not a terminal', async () => {
    // Prepare
    await seed(home, 120);
    await deprecateV1(home);

    // Act
    const r = await spawnCli(['--home', home.dir, '--now', at(9), 'sweep', 'pii', '--batch', '20'], { env: { REKEY_PROGRESS_INTERVAL_MS: '1' } });

    // Assess
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('\r');
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('sweep pii v1 '));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(l).toMatch(/^sweep pii v1 \[[#.]+\] \d+% [\d,]+\/120 [\d.,]+\/s \S+( \S+)? ETA \S+/);
    expect(lines[lines.length - 1]).toMatch(/ 100% 120\/120 .*: done 120, skipped 0, failed 0$/);
    expect(r.stdout.toString()).toBe('v1 rewrap: done 120, skipped 0, failed 0, remaining 0\n');
  }, 30_000);

  it('exits 7 with the counts when some records could not be moved', async () => {
    // Prepare: a record bound to a context the sweep is not given, under a revoked version
    await home.ok(['records', 'put', 'a', '--keyring', 'pii'], { stdin: Buffer.from('alpha'), now: NOW });
    await home.ok(['records', 'put', 'b', '--keyring', 'pii', '--context', 'tenant=acme'], { stdin: Buffer.from('beta'), now: NOW });
    await home.run(['revoke', 'pii', '--version', '1', '--reason', 'SEC-2', '--yes'], { now: at(2) });

    // Act
    const r = await home.run(['sweep', 'pii'], { now: at(2) });

    // Assess
    expect(r.code).toBe(7);
    expect(r.stdout.toString()).toBe('v1 reencrypt: done 0, skipped 0, failed 1, remaining 1\n');
    expect(r.stderr).toMatch(/^rekey: 1 record\(s\) could not be moved \('rekey sweep pii --json' lists their ids and reasons\)/m);
  });

  it('stops at a batch boundary on Ctrl-C, says how to resume, and a rerun finishes with totals that add up', async () => {
    // Prepare: enough records, rate-limited, that the sweep is still going when SIGINT arrives
    await seed(home, 3000);
    await deprecateV1(home);

    // Act
    const first = await sweepAndInterrupt(home, ['sweep', 'pii', '--batch', '100', '--rate', '1000']);
    const second = await spawnCli(['--home', home.dir, '--now', at(9), 'sweep', 'pii', '--batch', '500'], { env: { REKEY_PROGRESS_INTERVAL_MS: '1' } });

    // Assess
    expect(first.code).toBe(130);
    const interrupted = /^rekey: interrupted: ([\d,]+) of 3,000 done; rerun 'rekey sweep pii' \(with the same --home\) to resume$/m.exec(first.stderr);
    expect(interrupted).not.toBeNull();
    const doneFirst = Number((interrupted?.[1] ?? '').replace(/,/g, ''));
    expect(doneFirst > 0 && doneFirst < 3000 && doneFirst % 100 === 0).toBe(true);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`sweep pii v1: resumed: ${doneFirst.toLocaleString('en-US')} done earlier`);
    expect(second.stderr).toMatch(/ 100% 3,000\/3,000 /);
    expect(second.stdout.toString()).toBe(`v1 rewrap: done ${3000 - doneFirst}, skipped 0, failed 0, remaining 0\n`);
    const status = await home.json<{ keyrings: Array<{ versions: Array<{ version: number; records: number }> }> }>(['status', 'pii', '--json'], { now: at(9) });
    expect(status.keyrings[0]?.versions.map((v) => [v.version, v.records])).toEqual([[1, 0], [2, 3000]]);
  }, 60_000);

  it('refuses an unknown keyring with exit 4', async () => {
    // Act
    const r = await home.run(['sweep', 'nope'], { now: at(1) });

    // Assess
    expectFailure(r, 4, /nope/);
  });
});
