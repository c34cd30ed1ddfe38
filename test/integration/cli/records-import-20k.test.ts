import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openLocal } from '../../../shared/compose/local/local-services';
import { REPO_ROOT } from './support/cli-harness';
import { TestHome, T0 } from './support/test-home';

const NOW = new Date(T0).toISOString();
const FILES = 20_000;

/** `n` JSON Lines records `prefix-00000` .. with data `payload <i>`, from `from`. */
function lines(prefix: string, from: number, n: number): string {
  let out = '';
  for (let i = from; i < from + n; i += 1) out += `${JSON.stringify({ id: `${prefix}-${String(i).padStart(5, '0')}`, data: `payload ${i}` })}\n`;
  return out;
}

/**
 * Spawns `rekey records import - --keyring pii` with stdin held open: writes `first` lines,
 * sends SIGINT once the first progress line appears, then writes `more` lines and leaves stdin
 * open. The import cannot run out of input, so it can only end by stopping at a batch boundary.
 */
function importAndInterrupt(home: TestHome, first: string, more: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, REKEY_PROGRESS_INTERVAL_MS: '1' };
    delete env.REKEY_HOME;
    delete env.REKEY_REDIS_URL;
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'rekey.js'), '--home', home.dir, '--now', NOW, 'records', 'import', '-', '--keyring', 'pii', '--json'], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdin.on('error', () => undefined);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (!sent && /^import pii /m.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
        child.stdin.write(more);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.write(first);
  });
}

describe('rekey records import at the engine speed', () => {
  let home: TestHome;
  beforeAll(async () => {
    home = new TestHome();
    await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m'], { now: NOW });
  });
  afterAll(() => {
    home.remove();
  });

  it('imports 20,000 files in one command, every record counted and a sample decrypted back', async () => {
    // Arrange: 20,000 files of 64 .. 1087 bytes, their digests kept to check a sample.
    const dir = home.path('export-20k');
    mkdirSync(dir);
    const digests = new Map<string, string>();
    for (let i = 0; i < FILES; i += 1) {
      const name = `user-${String(i).padStart(5, '0')}.json`;
      const data = randomBytes(64 + (i % 1024));
      writeFileSync(join(dir, name), data);
      digests.set(name, createHash('sha256').update(data).digest('hex'));
    }

    // Act
    const started = process.hrtime.bigint();
    const r = await home.ok(['records', 'import', dir, '--keyring', 'pii', '--json'], { now: NOW });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const report = JSON.parse(r.stdout.toString('utf8')) as { imported: number; failed: number; existing: number };
    const listed = JSON.parse((await home.ok(['records', 'list', 'pii', '--limit', '100000', '--json'])).stdout.toString('utf8')) as { records: Array<{ id: string }> };
    const rk = await openLocal({ home: home.dir, clock: () => new Date(T0) });
    const sample = [...digests.keys()].filter((_, i) => i % 997 === 0);
    const read = new Map<string, string>();
    try {
      for (const id of sample) {
        const { plaintext } = await rk.recordService.get(id);
        read.set(id, createHash('sha256').update(plaintext).digest('hex'));
      }
    } finally {
      await rk.close();
    }
    // The note quotes this line: the measured wall time and rate of one import of 20,000 files.
    process.stderr.write(`records import: ${FILES} files in ${seconds.toFixed(2)} s (${Math.round(FILES / seconds)} records/s)\n`);

    // Assess
    expect(report).toMatchObject({ imported: FILES, failed: 0, existing: 0 });
    expect(listed.records).toHaveLength(FILES);
    expect(new Set(listed.records.map((x) => x.id))).toEqual(new Set(digests.keys()));
    expect(sample.length).toBeGreaterThan(15);
    for (const id of sample) expect(read.get(id)).toBe(digests.get(id));
  }, 180_000);

  it('stops at a batch boundary on Ctrl-C, says how to resume, and the same command then imports only the rest', async () => {
    // Arrange: 2,000 lines on stdin (500 a batch), the last 1,000 sent only after the SIGINT.
    const first = lines('cc', 0, 1000);
    const more = lines('cc', 1000, 1000);

    // Act
    const interrupted = await importAndInterrupt(home, first, more);
    const partial = JSON.parse(interrupted.stdout) as { imported: number; stopped: boolean };
    const resumed = await home.ok(['records', 'import', '-', '--keyring', 'pii', '--json'], { stdin: Buffer.from(first + more), now: NOW });
    const rest = JSON.parse(resumed.stdout.toString('utf8')) as { imported: number; existing: number; failed: number };
    const listed = JSON.parse((await home.ok(['records', 'list', 'pii', '--limit', '100000', '--json'])).stdout.toString('utf8')) as { records: Array<{ id: string }> };
    const last = await home.ok(['records', 'get', 'cc-01999']);

    // Assess
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toMatch(/^rekey: interrupted after importing \d+ record\(s\) into pii: rerun the same command to import the rest \(ids already imported are skipped\)$/m);
    expect(partial.stopped).toBe(true);
    expect(partial.imported % 500).toBe(0);
    expect(partial.imported).toBeGreaterThanOrEqual(500);
    expect(partial.imported).toBeLessThan(2000);
    expect(rest).toEqual(expect.objectContaining({ imported: 2000 - partial.imported, existing: partial.imported, failed: 0 }));
    expect(listed.records.filter((r) => r.id.startsWith('cc-'))).toHaveLength(2000);
    expect(last.stdout.toString('utf8')).toBe('payload 1999');
  }, 120_000);
});
