/**
 * The local KeyUseLog on a real SQLite file: owner-only, a monotonic maximum per version whatever
 * order uses arrive in, a start of observation that never moves, and two processes recording at
 * once without a database error (immediate transactions with a bounded retry).
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteKeyUseLog } from '../../../shared/adapters/local/sqlite-key-use-log';
import { ValidationError } from '../../../shared/errors';
import { scratchDir } from '../../support/scratch';

const ROOT = join(__dirname, '..', '..', '..');
const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const ROUNDS = 300;

const RECORDER = `
const { SqliteKeyUseLog } = require('./shared/adapters/local/sqlite-key-use-log');
(async () => {
  const log = new SqliteKeyUseLog(process.env.DB, { busyTimeoutMs: 50 });
  const failures = [];
  for (let i = 0; i < ${ROUNDS}; i++) {
    try { await log.recordUse('pii', 1 + (i % 3), { at: new Date(Number(process.env.BASE) + i * 1000), by: process.env.WHO }); }
    catch (err) { failures.push(String(err && err.message)); }
  }
  log.close();
  process.stdout.write(JSON.stringify({ failures }));
})();
`;

function recorder(db: string, who: string, base: number): Promise<{ failures: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'ts-node', 'dist', 'bin.js'), '--swc', '-T', '-e', RECORDER], { cwd: ROOT, env: { ...process.env, DB: db, WHO: who, BASE: String(base) } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as { failures: string[] }) : reject(new Error(`recorder ${who} exited ${code}: ${err.slice(0, 500)}`))));
  });
}

describe('SqliteKeyUseLog', () => {
  describe('recordUse / lastUse', () => {
    it('keeps the latest use per version, whatever order uses arrive in', async () => {
      // Prepare
      const log = new SqliteKeyUseLog(':memory:', { clock: () => T0 });
      // Act
      await log.recordUse('pii', 1, { at: new Date(T0 + 5000), by: 'late' });
      await log.recordUse('pii', 1, { at: new Date(T0 + 1000), by: 'early' });
      await log.recordUse('pii', 2, { at: new Date(T0 + 2000) });
      await log.recordUse('ops', 1, { at: new Date(T0 + 9000) });
      // Assess
      expect(await log.lastUse('pii')).toEqual(new Map([[1, { at: new Date(T0 + 5000), by: 'late' }], [2, { at: new Date(T0 + 2000) }]]));
      expect((await log.lastUse('ops')).get(1)?.at).toEqual(new Date(T0 + 9000));
      log.close();
    });

    it('throws ValidationError on a bad keyring, version or time, and records nothing', async () => {
      // Prepare
      const log = new SqliteKeyUseLog(':memory:');
      // Act / Assess
      await expect(log.recordUse('Bad!', 1, { at: new Date() })).rejects.toThrow(ValidationError);
      await expect(log.recordUse('pii', 0, { at: new Date() })).rejects.toThrow(ValidationError);
      await expect(log.recordUse('pii', 1, { at: new Date(Number.NaN) })).rejects.toThrow(ValidationError);
      expect((await log.lastUse('pii')).size).toBe(0);
      log.close();
    });
  });

  describe('observingSince', () => {
    it('is stamped when the database is created and never moves on reopening', async () => {
      // Prepare
      const home = scratchDir('key-use-');
      const db = join(home, 'key-use.db');
      // Act
      const first = new SqliteKeyUseLog(db, { clock: () => T0 });
      const since = await first.observingSince('pii');
      first.close();
      const again = new SqliteKeyUseLog(db, { clock: () => T0 + 86_400_000 });
      const later = await again.observingSince('ops');
      again.close();
      // Assess
      expect(since).toEqual(new Date(T0));
      expect(later).toEqual(new Date(T0));
      expect(statSync(db).mode & 0o777).toBe(0o600);
    });
  });

  describe('two processes', () => {
    it('records every use from both without a database error, keeping the maximum', async () => {
      // Prepare
      const home = scratchDir('key-use-two-');
      const db = join(home, 'key-use.db');
      new SqliteKeyUseLog(db, { clock: () => T0 }).close();
      // Act
      const [a, b] = await Promise.all([recorder(db, 'a', T0), recorder(db, 'b', T0 + 500)]);
      // Assess
      expect({ a: a.failures, b: b.failures }).toEqual({ a: [], b: [] });
      const log = new SqliteKeyUseLog(db);
      const last = await log.lastUse('pii');
      log.close();
      // The last round (i = ROUNDS - 1) is version 1 + ((ROUNDS - 1) % 3); b's clock runs 500 ms ahead.
      const lastVersion = 1 + ((ROUNDS - 1) % 3);
      expect(last.get(lastVersion)).toEqual({ at: new Date(T0 + 500 + (ROUNDS - 1) * 1000), by: 'b' });
    }, 120_000);
  });
});
