/**
 * PgRecordStore on a real PostgreSQL (the throwaway server of jest's globalSetup): the shared
 * record-store contract, then what is specific to PostgreSQL: its table and indexes, index-only
 * scans, a header-only re-wrap that never sends the body, keyset pages stable under concurrent
 * inserts, conflicts between two pools, a lagging replica, and a password function per connection.
 */
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { PgRecordStore } from '../../../shared/adapters/postgres/pg-record-store';
import { recordTableDdl } from '../../../shared/adapters/postgres/pg-schema';
import { ConflictError, ValidationError } from '../../../shared/errors';
import { parseHeader } from '../../../shared/envelope/format';
import { describeRecordStoreContract } from '../../support/record-store-contract';
import { openPostgresContractStore } from '../../support/stores/postgres';
import { postgresTestUrl } from '../../support/postgres-server';
import { LocalStack } from '../../unit/reencrypt/support/local-stack';

describeRecordStoreContract('PgRecordStore', openPostgresContractStore);

describe('PgRecordStore (PostgreSQL specifics)', () => {
  let stack: LocalStack;
  let h: Awaited<ReturnType<typeof openPostgresContractStore>>;
  let version: number;

  beforeAll(async () => {
    stack = new LocalStack();
    await stack.createKeyring('pii');
    version = (await stack.keyrings.get('pii')).versions.find((v) => v.state === 'active')!.version;
  });
  afterAll(() => stack.close());
  beforeEach(async () => {
    h = await openPostgresContractStore();
  });
  afterEach(async () => {
    await h.close();
  });

  const envelope = (text: string): Promise<Buffer> => stack.envelopes.encrypt('pii', Buffer.from(text));
  const id = (i: number): string => `r-${String(i).padStart(5, '0')}`;
  const table = (): string => `"${h.schema}".rekey_records`;

  async function load(n: number): Promise<void> {
    const one = await envelope('same payload');
    for (let start = 0; start < n; start += 500) {
      const writes = [];
      for (let i = start; i < Math.min(n, start + 500); i += 1) writes.push({ write: { id: id(i), keyring: 'pii', version, envelope: one }, expectedRevision: null });
      await h.store.putBatch(writes);
    }
  }

  it('creates the documented table and both indexes, and the DDL is idempotent', async () => {
    // Act
    await h.pool.query(recordTableDdl(h.schema, 'rekey_records'));
    const cols = await h.pool.query<{ column_name: string; data_type: string; is_nullable: string }>(
      'SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
      [h.schema, 'rekey_records'],
    );
    const idx = await h.pool.query<{ indexdef: string }>('SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2', [h.schema, 'rekey_records']);
    // Assess
    expect(cols.rows.map((c) => [c.column_name, c.data_type, c.is_nullable])).toEqual([
      ['id', 'text', 'NO'],
      ['keyring', 'text', 'NO'],
      ['key_version', 'integer', 'NO'],
      ['origin_version', 'integer', 'NO'],
      ['revision', 'bigint', 'NO'],
      ['header', 'bytea', 'NO'],
      ['body', 'bytea', 'NO'],
      ['updated_at', 'timestamp with time zone', 'NO'],
    ]);
    const defs = idx.rows.map((r) => r.indexdef).join('\n');
    expect(defs).toContain('(keyring, key_version, id)');
    expect(defs).toContain('(keyring, origin_version, id)');
  });

  it('refuses a schema or table name that is not a plain identifier', () => {
    expect(() => new PgRecordStore({ pool: h.pool, table: 'x"; DROP TABLE y; --' })).toThrow(ValidationError);
    expect(() => new PgRecordStore({ pool: h.pool, schema: 'Public' })).toThrow(ValidationError);
  });

  it('serves scans and counts from the indexes alone (EXPLAIN shows index-only scans)', async () => {
    // Prepare: one keyring version is a small part of the table, as in a real deployment
    // (filler rows of other keyrings and versions, written directly)
    await load(500);
    await h.pool.query(
      `INSERT INTO ${table()} (id, keyring, key_version, origin_version, revision, header, body)
       SELECT 'f-' || g, 'filler-' || (g % 7), 1 + g % 5, 1, nextval('"${h.schema}".rekey_records_revision'), '\\x00'::bytea, '\\x00'::bytea
       FROM generate_series(1, 20000) AS g`,
    );
    await h.pool.query(`VACUUM ANALYZE ${table()}`);
    const client = await h.pool.connect();
    try {
      await client.query(`SET search_path = "${h.schema}"`);
      // Small test tables make the planner prefer a heap or bitmap scan; what is checked here is
      // that an index can serve each statement alone.
      await client.query('SET enable_seqscan = off');
      await client.query('SET enable_bitmapscan = off');
      // Act: the statements the store runs, with literal parameters
      const plans: string[] = [];
      for (const sql of [
        `SELECT id, keyring, key_version, origin_version, revision FROM rekey_records WHERE keyring = 'pii' AND key_version = ${version} AND id > 'r-00100' ORDER BY id LIMIT 100`,
        `SELECT id, keyring, key_version, origin_version, revision FROM rekey_records WHERE keyring = 'pii' AND origin_version <= ${version} AND (origin_version, id) > (0, '') ORDER BY origin_version, id LIMIT 100`,
        "SELECT key_version, count(*) FROM rekey_records WHERE keyring = 'pii' GROUP BY key_version",
        "SELECT origin_version, count(*) FROM rekey_records WHERE keyring = 'pii' GROUP BY origin_version",
      ]) {
        const res = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`);
        plans.push(res.rows.map((r) => r['QUERY PLAN']).join('\n'));
      }
      // Assess
      expect(plans[0]).toMatch(/Index Only Scan using rekey_records_by_version/);
      expect(plans[1]).toMatch(/Index Only Scan using rekey_records_by_origin/);
      expect(plans[2]).toMatch(/Index Only Scan using rekey_records_by_(version|origin)/);
      expect(plans[3]).toMatch(/Index Only Scan using rekey_records_by_(version|origin)/);
    } finally {
      await client.query('RESET enable_seqscan');
      await client.query('RESET enable_bitmapscan');
      await client.query('RESET search_path');
      client.release();
    }
  });

  it('re-wraps a header without sending or changing the body', async () => {
    // Prepare: a body large enough to be stored out of line (TOAST)
    const big = await stack.envelopes.encrypt('pii', randomBytes(256 * 1024));
    const rev = await h.store.put({ id: 'big', keyring: 'pii', version, envelope: big }, null);
    const before = await h.pool.query<{ body: Buffer }>(`SELECT body FROM ${table()} WHERE id = 'big'`);
    const head = await h.store.getHeader('big');
    // Record every parameter the store sends: the pool has one idle connection, patched here.
    const sent: unknown[][] = [];
    const client = await h.pool.connect();
    const query = client.query.bind(client) as (...a: unknown[]) => unknown;
    (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
      if (Array.isArray(a[1])) sent.push(a[1] as unknown[]);
      return query(...a);
    };
    client.release();
    // Act
    const out = await h.store.putHeaders([{ write: { id: 'big', keyring: 'pii', version, header: head!.header }, expectedRevision: rev }]);
    // Assess
    expect(out[0]?.ok).toBe(true);
    expect(sent.length).toBeGreaterThan(0);
    const bytesSent = sent.flat().reduce<number>((n, v) => n + (Buffer.isBuffer(v) ? v.length : String(v).length), 0);
    expect(bytesSent).toBeLessThan(head!.header.length + 1024);
    const after = await h.pool.query<{ body: Buffer }>(`SELECT body FROM ${table()} WHERE id = 'big'`);
    expect(after.rows[0]?.body.equals(before.rows[0]!.body)).toBe(true);
    expect((await h.store.get('big'))?.envelope.equals(big)).toBe(true);
  });

  it('keeps keyset pages stable while another client inserts: every record present from the start is seen once', async () => {
    // Prepare
    await load(300);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    const extra = await envelope('late');
    // Act: between pages, the peer inserts records before and after the cursor
    do {
      const page = await h.store.scanByVersion('pii', version, { limit: 37, ...(cursor === undefined ? {} : { cursor }) });
      seen.push(...page.items.map((r) => r.id));
      cursor = page.cursor;
      pages += 1;
      await h.peer.put({ id: `a-${pages}`, keyring: 'pii', version, envelope: extra }, null);
      await h.peer.put({ id: `z-${pages}`, keyring: 'pii', version, envelope: extra }, null);
    } while (cursor !== undefined);
    // Assess
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((s) => s.startsWith('r-'))).toEqual(Array.from({ length: 300 }, (_, i) => id(i)));
    expect(seen.some((s) => s.startsWith('a-'))).toBe(false);
  });

  it('lets only one of two pools win a batch write at the same revision', async () => {
    // Prepare
    const env = await envelope('v');
    const rev = await h.store.put({ id: 'c', keyring: 'pii', version, envelope: env }, null);
    // Act
    const results = await Promise.all([
      h.store.putBatch([{ write: { id: 'c', keyring: 'pii', version, envelope: env }, expectedRevision: rev }]),
      h.peer.putBatch([{ write: { id: 'c', keyring: 'pii', version, envelope: env }, expectedRevision: rev }]),
    ]);
    // Assess
    const outcomes = results.map((r) => r[0]);
    expect(outcomes.filter((o) => o?.ok === true)).toHaveLength(1);
    expect(outcomes.filter((o) => o?.ok === false)).toHaveLength(1);
  });

  it('reads from a lagging replica; the write made from its stale revision conflicts on the primary, a fresh one succeeds', async () => {
    // Prepare: the "replica" is another database holding a copy of the table from before the
    // primary moved on (what a lagging streaming replica shows)
    const db = `rekey_replica_${randomBytes(4).toString('hex')}`;
    await h.pool.query(`CREATE DATABASE ${db}`);
    const replicaPool = new Pool({ connectionString: postgresTestUrl().replace(/\/[^/]*$/, `/${db}`), max: 2 });
    try {
      const env = await envelope('first');
      const rev1 = await h.store.put({ id: 'x', keyring: 'pii', version, envelope: env }, null);
      const copy = await PgRecordStore.open({ pool: replicaPool, schema: h.schema });
      await copy.put({ id: 'x', keyring: 'pii', version, envelope: env });
      await replicaPool.query(`UPDATE ${table()} SET revision = $1`, [rev1]);
      const rev2 = await h.store.put({ id: 'x', keyring: 'pii', version, envelope: env }, rev1);
      const store = new PgRecordStore({ pool: h.pool, replica: replicaPool, schema: h.schema });
      // Act
      const stale = await store.getHeader('x');
      const out = await store.putHeaders([{ write: { id: 'x', keyring: 'pii', version, header: stale!.header }, expectedRevision: stale!.revision }]);
      const fresh = await h.store.getHeader('x');
      const ok = await store.putHeaders([{ write: { id: 'x', keyring: 'pii', version, header: fresh!.header }, expectedRevision: fresh!.revision }]);
      // Assess
      expect(stale?.revision).toBe(rev1);
      expect(fresh?.revision).toBe(rev2);
      expect(out).toEqual([{ ok: false, reason: 'conflict' }]);
      expect(ok[0]?.ok).toBe(true);
      expect((await h.store.getHeader('x'))?.revision).toBe(ok[0]?.ok === true ? ok[0].revision : 'none');
    } finally {
      await replicaPool.end();
      await h.pool.query(`DROP DATABASE ${db}`);
    }
  });

  it('calls the password function for every new connection (password authentication)', async () => {
    // Prepare: a role that must log in with a password (pg_hba of the test server)
    const role = `pw_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    await h.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' IN ROLE rekey_password_login`);
    await h.pool.query(`GRANT USAGE ON SCHEMA "${h.schema}" TO ${role}`);
    await h.pool.query(`GRANT SELECT ON ALL TABLES IN SCHEMA "${h.schema}" TO ${role}`);
    let calls = 0;
    const url = postgresTestUrl().replace('postgres@', `${role}@`);
    const store = new PgRecordStore({ url, schema: h.schema, poolSize: 3, password: async () => { calls += 1; return password; } });
    const wrong = new PgRecordStore({ url, schema: h.schema, poolSize: 1, password: () => 'not-the-password' });
    try {
      // Act: concurrent reads open several connections
      await Promise.all([store.countByVersion('pii'), store.countByVersion('pii'), store.countByVersion('pii')]);
      const connections = store.pool.totalCount;
      // Assess
      expect(connections).toBeGreaterThan(1);
      expect(calls).toBe(connections);
      await expect(wrong.countByVersion('pii')).rejects.toMatchObject({ name: 'AccessDeniedError' });
    } finally {
      await store.close();
      await wrong.close();
      await h.pool.query(`DROP OWNED BY ${role}`);
      await h.pool.query(`DROP ROLE ${role}`);
    }
  });

  it('runs two batches over the same records in opposite orders without a deadlock, each write won once', async () => {
    // Prepare
    await load(40);
    const env = await envelope('same payload');
    const refs = (await h.store.scanByVersion('pii', version, { limit: 100 })).items;
    const writes = refs.map((r) => ({ write: { id: r.id, keyring: 'pii', version, envelope: env }, expectedRevision: r.revision }));
    // Act
    const [a, b] = await Promise.all([h.store.putBatch(writes), h.peer.putBatch([...writes].reverse())]);
    // Assess: for every record exactly one of the two batches won
    const wonByB = new Map(refs.map((r, i) => [r.id, b[refs.length - 1 - i]?.ok === true]));
    refs.forEach((r, i) => expect([a[i]?.ok === true, wonByB.get(r.id)].filter(Boolean)).toHaveLength(1));
  });

  it('reports an unreachable server as a retryable BackendError that names no value', async () => {
    // Prepare: port 1 on loopback (nothing listens there; connecting is refused at once)
    const store = new PgRecordStore({ url: 'postgresql://postgres@127.0.0.1:1/postgres', schema: h.schema, poolSize: 1 });
    try {
      // Act
      const err = await store.get('secret-id').then(() => undefined, (e: unknown) => e);
      // Assess
      expect(err).toMatchObject({ name: 'BackendError', retryable: true });
      expect((err as Error).message).not.toContain('secret-id');
    } finally {
      await store.close();
    }
  });

  it('indexes the origin from the header, whatever the caller says', async () => {
    // Prepare
    const env = await envelope('o');
    // Act
    await h.store.put({ id: 'o', keyring: 'pii', version, envelope: env }, null);
    // Assess
    const row = await h.pool.query<{ origin_version: number }>(`SELECT origin_version FROM ${table()} WHERE id = 'o'`);
    expect(row.rows[0]?.origin_version).toBe(parseHeader(env).originVersion);
    await expect(h.store.put({ id: 'o', keyring: 'pii', version: version + 1, envelope: env })).rejects.toBeInstanceOf(ValidationError);
    await expect(h.store.put({ id: 'o', keyring: 'pii', version, envelope: env }, null)).rejects.toBeInstanceOf(ConflictError);
  });
});
