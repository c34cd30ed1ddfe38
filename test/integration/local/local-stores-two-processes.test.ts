/**
 * Two processes on one home's catalog, checkpoints and audit log at once (issue 11: immediate
 * transactions with a bounded retry wherever two processes can meet). Every catalog write lands
 * or loses its compare-and-swap with ConflictError, every checkpoint write lands, every audit
 * event is one whole line; none fails with a database or lock error. The checkpoint store used
 * to set its busy timeout only after switching to WAL, so two processes opening a fresh home at
 * once could fail with SQLITE_BUSY before any timeout applied.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteCatalogStore } from '../../../shared/adapters/local/sqlite-catalog-store';
import { SqliteCheckpointStore } from '../../../shared/adapters/local/sqlite-checkpoint-store';
import { TestHome, T0 } from '../cli/support/test-home';

const ROOT = join(__dirname, '..', '..', '..');
const ROUNDS = 150;

interface WriterOutcome {
  written: number;
  conflicts: number;
  failures: string[];
}

// Each writer opens the stores itself (the open races too), then writes over and over.
const WRITER = `
const { join } = require('node:path');
const { SqliteCatalogStore } = require('./shared/adapters/local/sqlite-catalog-store');
const { SqliteCheckpointStore } = require('./shared/adapters/local/sqlite-checkpoint-store');
const { JsonlAuditSink } = require('./shared/adapters/local/jsonl-audit-sink');
const { ConflictError } = require('./shared/errors');
(async () => {
  const home = process.env.HOME_DIR;
  const out = { written: 0, conflicts: 0, failures: [] };
  let catalogs, checkpoints;
  try {
    catalogs = new SqliteCatalogStore(join(home, 'catalog.db'));
    checkpoints = new SqliteCheckpointStore({ path: join(home, 'checkpoints.db') });
  } catch (err) {
    out.failures.push('open: ' + String(err && err.message));
    process.stdout.write(JSON.stringify(out));
    return;
  }
  const audit = new JsonlAuditSink(join(home, 'audit.jsonl'));
  for (let i = 0; i < ${ROUNDS}; i++) {
    try {
      const stored = await catalogs.get('pii');
      await catalogs.put(stored.catalog, stored.etag);
      out.written++;
    } catch (err) {
      if (err instanceof ConflictError) out.conflicts++;
      else out.failures.push('catalog: ' + String(err && err.message));
    }
    try {
      await checkpoints.put('sweep-' + process.env.WHO + '-' + (i % 5), { cursor: String(i), done: i });
      await audit.record({ at: new Date().toISOString(), actor: 'test:' + process.env.WHO, action: 'test.write', keyring: 'pii', details: { i } });
    } catch (err) {
      out.failures.push('checkpoint/audit: ' + String(err && err.message));
    }
  }
  catalogs.close();
  checkpoints.close();
  process.stdout.write(JSON.stringify(out));
})();
`;

function writer(home: string, who: string): Promise<WriterOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'ts-node', 'dist', 'bin.js'), '--swc', '-T', '-e', WRITER], { cwd: ROOT, env: { ...process.env, HOME_DIR: home, WHO: who } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as WriterOutcome) : reject(new Error(`writer ${who} exited ${code}: ${err.slice(0, 500)}`))));
  });
}

async function generations(home: string): Promise<number[]> {
  const catalogs = new SqliteCatalogStore(join(home, 'catalog.db'), { readOnly: true });
  try {
    return (await catalogs.history('pii')).map((h) => h.generation);
  } finally {
    catalogs.close();
  }
}

describe('local catalog, checkpoint and audit stores with two writer processes', () => {
  it('lands every write or refuses it with ConflictError, never with a database error', async () => {
    // Prepare
    const home = new TestHome('rekey-two-procs-');
    try {
      await home.ok(['keyring', 'create', 'pii'], { now: new Date(T0).toISOString() });
      const auditBefore = readFileSync(join(home.dir, 'audit.jsonl'), 'utf8').split('\n').filter((l) => l.length > 0).length;
      const generationsBefore = await generations(home.dir);
      // Act
      const [a, b] = await Promise.all([writer(home.dir, 'a'), writer(home.dir, 'b')]);
      // Assess
      expect({ a: a.failures, b: b.failures }).toEqual({ a: [], b: [] });
      expect([a.written + a.conflicts, b.written + b.conflicts]).toEqual([ROUNDS, ROUNDS]);
      // Every landed CAS is one new generation; none was lost or doubled.
      expect(await generations(home.dir)).toEqual(Array.from({ length: generationsBefore.length + a.written + b.written }, (_, i) => i + 1));
      const lines = readFileSync(join(home.dir, 'audit.jsonl'), 'utf8').split('\n').filter((l) => l.length > 0);
      expect(lines.length - auditBefore).toBe(2 * ROUNDS);
      expect(lines.every((l) => typeof (JSON.parse(l) as { action?: unknown }).action === 'string')).toBe(true);
      const checkpoints = new SqliteCheckpointStore({ path: join(home.dir, 'checkpoints.db'), readOnly: true });
      const last = await Promise.all(['a', 'b'].map((who) => checkpoints.get(`sweep-${who}-${(ROUNDS - 1) % 5}`)));
      checkpoints.close();
      expect(last).toEqual([{ cursor: String(ROUNDS - 1), done: ROUNDS - 1 }, { cursor: String(ROUNDS - 1), done: ROUNDS - 1 }]);
    } finally {
      home.remove();
    }
  }, 120_000);
});
