/**
 * Two processes writing one local home's records at once (a `records put` racing a sweep): every
 * write either lands or loses a compare-and-swap with ConflictError; none fails with a database
 * error. Before immediate transactions, a deferred transaction whose read snapshot went stale
 * failed at once with SQLITE_BUSY_SNAPSHOT (the busy timeout does not cover it) and its write
 * was dropped.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { SqliteRecordStore } from '../../../shared/adapters/local/sqlite-record-store';
import { scratchDir } from '../../support/scratch';

const ROOT = join(__dirname, '..', '..', '..');
const RECORDS = 20;
const ROUNDS = 400;

// Each writer reads a record and writes it back conditionally, over and over, on the same ids.
const WRITER = `
const { SqliteRecordStore } = require('./shared/adapters/local/sqlite-record-store');
const { ConflictError } = require('./shared/errors');
(async () => {
  const store = new SqliteRecordStore({ home: process.env.HOME_DIR });
  const out = { written: 0, conflicts: 0, failures: [] };
  for (let i = 0; i < ${ROUNDS}; i++) {
    const id = 'r' + (i % ${RECORDS});
    try {
      const cur = await store.get(id);
      await store.put({ id, keyring: 'pii', version: 1 + (i % 3), envelope: Buffer.from(process.env.WHO + i) }, cur ? cur.revision : null);
      out.written++;
    } catch (err) {
      if (err instanceof ConflictError) out.conflicts++;
      else out.failures.push(String(err && err.message));
    }
  }
  store.close();
  process.stdout.write(JSON.stringify(out));
})();
`;

function writer(home: string, who: string): Promise<{ written: number; conflicts: number; failures: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'ts-node', 'dist', 'bin.js'), '--swc', '-T', '-e', WRITER], { cwd: ROOT, env: { ...process.env, HOME_DIR: home, WHO: who } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as { written: number; conflicts: number; failures: string[] }) : reject(new Error(`writer ${who} exited ${code}: ${err.slice(0, 500)}`))));
  });
}

describe('SqliteRecordStore with two writer processes', () => {
  it('lands every write or refuses it with ConflictError, never with a database error', async () => {
    // Prepare
    const home = scratchDir('two-writers-');
    const store = new SqliteRecordStore({ home });
    for (let i = 0; i < RECORDS; i++) await store.put({ id: `r${i}`, keyring: 'pii', version: 1, envelope: Buffer.from('seed') }, null);
    // Act
    const [a, b] = await Promise.all([writer(home, 'a'), writer(home, 'b')]);
    // Assess
    expect({ a: a.failures, b: b.failures }).toEqual({ a: [], b: [] });
    expect(a.written + a.conflicts).toBe(ROUNDS);
    expect(b.written + b.conflicts).toBe(ROUNDS);
    // Every landed write is there: the last revision of each record is one a writer produced.
    const stored = await Promise.all(Array.from({ length: RECORDS }, (_, i) => store.get(`r${i}`)));
    expect(stored.every((r) => r !== undefined && /^(a|b)\d+$/.test(r.envelope.toString()))).toBe(true);
    store.close();
  }, 120_000);
});
