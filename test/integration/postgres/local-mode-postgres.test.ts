/**
 * Local mode with REKEY_POSTGRES_URL: the real CLI keeps records in PostgreSQL (its
 * `public.rekey_records` table, created on first use) instead of `<home>/records.db`, and
 * everything else (catalog, keys, audit) stays in the home. Each test gets its own database on
 * the run's throwaway server.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { TestHome, T0, at } from '../cli/support/test-home';
import { postgresTestUrl } from '../../support/postgres-server';

const NOW = new Date(T0).toISOString();

/** Records in a home's SQLite record table (0 when the file or the table does not exist). */
function sqliteRecordCount(path: string): number {
  if (!existsSync(path)) return 0;
  const db = new Database(path, { readonly: true });
  try {
    const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'records'").get();
    return table === undefined ? 0 : (db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

interface StatusJson { keyrings: Array<{ keyring: string; versions: Array<{ version: number; state: string; records: number }> }> }

describe('rekey CLI in local mode with REKEY_POSTGRES_URL', () => {
  let home: TestHome;
  let db: string;
  let url: string;
  let admin: Client;

  beforeAll(async () => {
    admin = new Client({ connectionString: postgresTestUrl() });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.end();
  });
  beforeEach(async () => {
    db = `rekey_local_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${db}`);
    url = postgresTestUrl().replace(/\/[^/]*$/, `/${db}`);
    home = new TestHome();
  });
  afterEach(async () => {
    home.remove();
    await admin.query(`DROP DATABASE ${db} WITH (FORCE)`);
  });

  async function rows(): Promise<Array<{ id: string; key_version: number }>> {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query<{ id: string; key_version: number }>('SELECT id, key_version FROM public.rekey_records ORDER BY id')).rows;
    } finally {
      await c.end();
    }
  }

  it('puts, rotates and sweeps with every record in PostgreSQL and none in SQLite', async () => {
    // Prepare
    const env = { REKEY_POSTGRES_URL: url };
    const plain = new Map<string, Buffer>();
    await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m'], { now: NOW, env });
    for (const id of ['a', 'b', 'c']) {
      plain.set(id, randomBytes(3000));
      await home.ok(['records', 'put', id, '--keyring', 'pii'], { stdin: plain.get(id), now: NOW, env });
    }
    const before = await rows();

    // Act: rotate, let the propagation window and the grace period pass, sweep
    await home.ok(['rotate', 'pii'], { now: at(1), env });
    await home.ok(['tick', '--at', at(1, 11)], { env });
    await home.ok(['tick', '--at', at(9)], { env });
    const sweep = await home.ok(['sweep', 'pii'], { now: at(9), env });
    const status = await home.json<StatusJson>(['status', 'pii', '--json'], { now: at(9), env });
    const after = await rows();
    const read = await home.ok(['records', 'get', 'b'], { now: at(9), env });

    // Assess
    expect(before).toEqual([{ id: 'a', key_version: 1 }, { id: 'b', key_version: 1 }, { id: 'c', key_version: 1 }]);
    expect(sweep.stdout.toString()).toMatch(/done 3, skipped 0, failed 0, remaining 0/);
    expect(after).toEqual([{ id: 'a', key_version: 2 }, { id: 'b', key_version: 2 }, { id: 'c', key_version: 2 }]);
    expect(status.keyrings[0]?.versions.map((v) => [v.version, v.records])).toEqual([[1, 0], [2, 3]]);
    expect(read.stdout.equals(plain.get('b') as Buffer)).toBe(true);
    // The home keeps its catalog; records.db holds the sweep checkpoints only, no record.
    expect(existsSync(join(home.dir, 'catalog.db'))).toBe(true);
    expect(sqliteRecordCount(join(home.dir, 'records.db'))).toBe(0);
  });

  it('refuses a REKEY_POSTGRES_URL that is not a postgres:// URL, naming the variable only', async () => {
    // Act
    const r = await home.run(['keyring', 'create', 'pii'], { now: NOW, env: { REKEY_POSTGRES_URL: 'mysql://user:secret@db/app' } });
    // Assess
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/REKEY_POSTGRES_URL/);
    expect(r.stderr).not.toMatch(/secret/);
  });
});
