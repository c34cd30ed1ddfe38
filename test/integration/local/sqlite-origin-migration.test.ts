/**
 * The SQLite record store's origin index on a database made before it existed: opening the
 * store adds the column and fills it from each stored header (the version under which the data
 * key was made, which a header-only re-wrap kept), so a revocation finds the re-wrapped records.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteRecordStore } from '../../../shared/adapters/local/sqlite-record-store';
import { LocalStack } from '../../unit/reencrypt/support/local-stack';

describe('SqliteRecordStore', () => {
  let stack: LocalStack;

  beforeEach(async () => {
    stack = new LocalStack();
    await stack.createKeyring('pii');
  });

  afterEach(() => stack.close());

  describe('constructor', () => {
    it('migrates a database without the origin column, filling it from each header', async () => {
      // Prepare: one record made under v1 and re-wrapped to v2 (origin 1), one made under v2,
      // written into the table layout of the previous release.
      const early = await stack.envelopes.encrypt('pii', Buffer.from('early'));
      await stack.rotateAndPromote('pii');
      const rewrapped = await stack.envelopes.rewrap(early);
      const late = await stack.envelopes.encrypt('pii', Buffer.from('late'));
      const path = join(stack.home, 'old-records.db');
      const old = new Database(path);
      old.exec(`
        CREATE TABLE records (rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, keyring TEXT NOT NULL, version INTEGER NOT NULL, revision INTEGER NOT NULL, header BLOB NOT NULL);
        CREATE INDEX records_by_version ON records (keyring, version, id);
        CREATE TABLE bodies (rid INTEGER PRIMARY KEY, body BLOB NOT NULL);
        CREATE TABLE record_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT INTO record_meta (name, value) VALUES ('revision', 2);
      `);
      const insert = old.prepare('INSERT INTO records (rid, id, keyring, version, revision, header) VALUES (?, ?, ?, ?, ?, ?)');
      const body = old.prepare('INSERT INTO bodies (rid, body) VALUES (?, ?)');
      for (const [rid, id, envelope] of [[1, 'early', rewrapped], [2, 'late', late]] as const) {
        const n = stack.envelopes.inspect(envelope).headerLength;
        insert.run(rid, id, 'pii', 2, rid, envelope.subarray(0, n));
        body.run(rid, envelope.subarray(n));
      }
      old.close();
      // Act
      const store = new SqliteRecordStore({ path });
      const reopened = new SqliteRecordStore({ path });
      // Assess: before the fix only the version (2 for both) was indexed.
      try {
        expect(await store.countByOrigin('pii')).toEqual(new Map([[1, 1], [2, 1]]));
        expect((await store.scanByOrigin('pii', 1, { limit: 10 })).items.map((r) => r.id)).toEqual(['early']);
        expect(await store.get('early')).toMatchObject({ version: 2, originVersion: 1 });
        expect(await reopened.countByOrigin('pii')).toEqual(new Map([[1, 1], [2, 1]]));
        expect(stack.envelopes.inspect((await store.get('late'))!.envelope).originVersion).toBe(2);
      } finally {
        store.close();
        reopened.close();
        rmSync(path, { force: true });
      }
    });

    it('pages a scan by origin in (origin, id) order without skipping or repeating records', async () => {
      // Prepare
      const service = stack.recordService();
      for (let i = 0; i < 5; i += 1) await service.put(`v1-${i}`, 'pii', Buffer.from(`x${i}`));
      await stack.rotateAndPromote('pii');
      for (let i = 0; i < 4; i += 1) await service.put(`v2-${i}`, 'pii', Buffer.from(`y${i}`));
      await stack.rotateAndPromote('pii');
      await service.put('v3-0', 'pii', Buffer.from('z'));
      // Act
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await stack.records.scanByOrigin('pii', 2, { limit: 2, ...(cursor === undefined ? {} : { cursor }) });
        seen.push(...page.items.map((r) => `${r.originVersion}:${r.id}`));
        cursor = page.cursor;
      } while (cursor !== undefined);
      // Assess
      expect(seen).toEqual(['1:v1-0', '1:v1-1', '1:v1-2', '1:v1-3', '1:v1-4', '2:v2-0', '2:v2-1', '2:v2-2', '2:v2-3']);
      await expect(stack.records.scanByOrigin('pii', 2, { limit: 2, cursor: 'not a cursor' })).rejects.toThrow(/cursor/);
    });
  });
});
