import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../../../support/scratch';
import Database from 'better-sqlite3';
import { SqliteRecordStore } from '../../../../shared/adapters/local/sqlite-record-store';
import { ConflictError, NotFoundError, ValidationError } from '../../../../shared/errors';

// Envelopes here are opaque bytes with a fixed-size "header" (an injected split), so the tests
// control exactly where the header ends and the body starts.
const HEADER = 8;
function bytes(header: string, body: string): Buffer {
  return Buffer.concat([Buffer.from(header.padEnd(HEADER, '.')), Buffer.from(body)]);
}

describe('SqliteRecordStore', () => {
  let home: string;
  let store: SqliteRecordStore;

  beforeEach(() => {
    home = scratchDir('rekey-records-');
    store = new SqliteRecordStore({ home, headerLength: () => HEADER });
  });

  afterEach(() => {
    store.close();
    rmSync(home, { recursive: true, force: true });
  });

  describe('put', () => {
    it('stores a record that get returns byte for byte', async () => {
      // Prepare
      const envelope = bytes('h1', 'payload-1');
      // Act
      const revision = await store.put({ id: 'r1', keyring: 'pii', version: 1, envelope }, null);
      const got = await store.get('r1');
      // Assess
      expect(got).toEqual({ id: 'r1', keyring: 'pii', version: 1, originVersion: 1, envelope, revision });
    });

    it('throws ConflictError when the record exists and the write is if-absent', async () => {
      // Prepare
      await store.put({ id: 'r1', keyring: 'pii', version: 1, envelope: bytes('h1', 'a') }, null);
      // Act
      const attempt = store.put({ id: 'r1', keyring: 'pii', version: 1, envelope: bytes('h2', 'b') }, null);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ConflictError);
      expect((await store.get('r1'))?.envelope).toEqual(bytes('h1', 'a'));
    });

    it('throws ConflictError and changes nothing when the expected revision is stale', async () => {
      // Prepare
      const r1 = await store.put({ id: 'r1', keyring: 'pii', version: 1, envelope: bytes('h1', 'a') });
      const r2 = await store.put({ id: 'r1', keyring: 'pii', version: 1, envelope: bytes('h1', 'b') }, r1);
      // Act
      const attempt = store.put({ id: 'r1', keyring: 'pii', version: 2, envelope: bytes('h2', 'c') }, r1);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ConflictError);
      expect(await store.get('r1')).toMatchObject({ version: 1, revision: r2, envelope: bytes('h1', 'b') });
    });

    it('throws ConflictError when a conditional write targets a missing record', async () => {
      // Prepare
      const r1 = await store.put({ id: 'r1', keyring: 'pii', version: 1, envelope: bytes('h1', 'a') });
      await store.delete('r1');
      // Act
      const attempt = store.put({ id: 'r1', keyring: 'pii', version: 1, envelope: bytes('h1', 'a') }, r1);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ConflictError);
      expect(await store.get('r1')).toBeUndefined();
    });

    it('never reissues a revision when a record is deleted and created again', async () => {
      // Prepare
      const first = await store.put({ id: 'r1', keyring: 'pii', version: 1, envelope: bytes('h1', 'a') }, null);
      await store.delete('r1', first);
      // Act
      const second = await store.put({ id: 'r1', keyring: 'pii', version: 1, envelope: bytes('h1', 'a') }, null);
      // Assess
      expect(second).not.toBe(first);
      await expect(store.put({ id: 'r1', keyring: 'pii', version: 2, envelope: bytes('h2', 'a') }, first)).rejects.toBeInstanceOf(ConflictError);
    });

    // The WAL records every page a write touches: emptied first, its size after one put tells
    // whether the 64 KiB body pages were written again.
    async function walBytesOf(write: () => Promise<unknown>): Promise<number> {
      const spy = new Database(join(home, 'records.db'));
      spy.pragma('wal_checkpoint(TRUNCATE)');
      await write();
      const size = statSync(join(home, 'records.db-wal')).size;
      spy.close();
      return size;
    }

    it('writes only the header pages when the body is unchanged', async () => {
      // Prepare
      const body = 'x'.repeat(64 * 1024);
      const rev = await store.put({ id: 'big', keyring: 'pii', version: 1, envelope: bytes('old', body) }, null);
      // Act
      const wal = await walBytesOf(() => store.put({ id: 'big', keyring: 'pii', version: 2, envelope: bytes('new', body) }, rev));
      // Assess
      expect(wal).toBeLessThan(32 * 1024);
      expect(await store.get('big')).toMatchObject({ version: 2, envelope: bytes('new', body) });
    });

    it('rewrites the body pages when the body changed', async () => {
      // Prepare
      const rev = await store.put({ id: 'big', keyring: 'pii', version: 1, envelope: bytes('old', 'x'.repeat(64 * 1024)) }, null);
      // Act
      const wal = await walBytesOf(() => store.put({ id: 'big', keyring: 'pii', version: 2, envelope: bytes('new', 'y'.repeat(64 * 1024)) }, rev));
      // Assess
      expect(wal).toBeGreaterThan(64 * 1024);
      expect(await store.get('big')).toMatchObject({ version: 2, envelope: bytes('new', 'y'.repeat(64 * 1024)) });
    });

    it.each([
      [{ id: '', keyring: 'pii', version: 1, envelope: Buffer.from('x') }],
      [{ id: 'r', keyring: '', version: 1, envelope: Buffer.from('x') }],
      [{ id: 'r', keyring: 'pii', version: 0, envelope: Buffer.from('x') }],
      [{ id: 'r', keyring: 'pii', version: 1.5, envelope: Buffer.from('x') }],
      [{ id: 'r', keyring: 'pii', version: 1, envelope: Buffer.alloc(0) }],
      [{ id: 'x'.repeat(513), keyring: 'pii', version: 1, envelope: Buffer.from('x') }],
    ])('throws ValidationError and stores nothing for bad input %#', async (record) => {
      // Act
      const attempt = store.put(record);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      expect(await store.countByVersion('pii')).toEqual(new Map());
    });

    it('throws ValidationError for a revision this store never returns', async () => {
      // Act
      const attempt = store.put({ id: 'r', keyring: 'pii', version: 1, envelope: Buffer.from('x') }, 'abc');
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    });
  });

  describe('delete', () => {
    it('throws NotFoundError for a missing record', async () => {
      // Act / Assess
      await expect(store.delete('nope')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('throws ConflictError and keeps the record when the revision is stale', async () => {
      // Prepare
      const r1 = await store.put({ id: 'r1', keyring: 'pii', version: 1, envelope: bytes('h', 'a') });
      await store.put({ id: 'r1', keyring: 'pii', version: 1, envelope: bytes('h', 'b') }, r1);
      // Act
      const attempt = store.delete('r1', r1);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ConflictError);
      expect(await store.get('r1')).toBeDefined();
    });
  });

  describe('scanByVersion', () => {
    it('returns every record of the version exactly once across pages', async () => {
      // Prepare
      const ids = Array.from({ length: 25 }, (_, i) => `id-${String(i).padStart(3, '0')}`);
      await store.putMany(ids.map((id, i) => ({ id, keyring: 'pii', version: i % 2 === 0 ? 1 : 2, envelope: bytes('h', id) })));
      // Act
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.scanByVersion('pii', 1, { limit: 4, ...(cursor === undefined ? {} : { cursor }) });
        seen.push(...page.items.map((r) => r.id));
        cursor = page.cursor;
      } while (cursor !== undefined);
      // Assess
      expect(seen).toEqual(ids.filter((_, i) => i % 2 === 0));
    });

    it('neither skips nor repeats remaining records while scanned records change version', async () => {
      // Prepare
      const ids = Array.from({ length: 40 }, (_, i) => `r${String(i).padStart(2, '0')}`);
      await store.putMany(ids.map((id) => ({ id, keyring: 'pii', version: 1, envelope: bytes('h', id) })));
      // Act: each page's records move to v2 before the next page is read, as a sweep does,
      // and an unrelated record is moved out of v1 ahead of the cursor.
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.scanByVersion('pii', 1, { limit: 7, ...(cursor === undefined ? {} : { cursor }) });
        for (const item of page.items) {
          seen.push(item.id);
          await store.put({ id: item.id, keyring: 'pii', version: 2, envelope: bytes('v2', item.id) }, item.revision);
        }
        if (seen.length === 7) await store.put({ id: 'r30', keyring: 'pii', version: 3, envelope: bytes('v3', 'r30') });
        cursor = page.cursor;
      } while (cursor !== undefined);
      // Assess
      expect(seen).toEqual(ids.filter((id) => id !== 'r30'));
      expect(await store.countByVersion('pii')).toEqual(new Map([[2, 39], [3, 1]]));
    });

    it('throws ValidationError for a bad limit or cursor', async () => {
      // Act / Assess
      await expect(store.scanByVersion('pii', 1, { limit: 0 })).rejects.toBeInstanceOf(ValidationError);
      await expect(store.scanByVersion('pii', 1, { limit: 5, cursor: 'not a cursor!' })).rejects.toBeInstanceOf(ValidationError);
    });
  });

  describe('countByVersion', () => {
    it('counts records per version of one keyring only', async () => {
      // Prepare
      await store.putMany([
        { id: 'a', keyring: 'pii', version: 1, envelope: bytes('h', 'a') },
        { id: 'b', keyring: 'pii', version: 1, envelope: bytes('h', 'b') },
        { id: 'c', keyring: 'pii', version: 3, envelope: bytes('h', 'c') },
        { id: 'd', keyring: 'ops', version: 1, envelope: bytes('h', 'd') },
      ]);
      // Act
      const counts = await store.countByVersion('pii');
      // Assess
      expect(counts).toEqual(new Map([[1, 2], [3, 1]]));
    });
  });

  describe('putMany', () => {
    it('writes nothing when one record of the batch is invalid', async () => {
      // Act
      const attempt = store.putMany([
        { id: 'a', keyring: 'pii', version: 1, envelope: bytes('h', 'a') },
        { id: '', keyring: 'pii', version: 1, envelope: bytes('h', 'b') },
      ]);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      expect(await store.get('a')).toBeUndefined();
    });

    it('persists across reopening the database', async () => {
      // Prepare
      await store.putMany([{ id: 'a', keyring: 'pii', version: 1, envelope: bytes('h', 'a') }]);
      store.close();
      // Act
      store = new SqliteRecordStore({ home, headerLength: () => HEADER });
      // Assess
      expect((await store.get('a'))?.envelope).toEqual(bytes('h', 'a'));
    });
  });
});

describe('SqliteRecordStore batch capabilities', () => {
  let home: string;
  let store: SqliteRecordStore;

  beforeEach(async () => {
    home = scratchDir('rekey-records-');
    store = new SqliteRecordStore({ home, headerLength: () => HEADER });
    await store.putMany([
      { id: 'a', keyring: 'pii', version: 1, envelope: bytes('ha', 'body-a') },
      { id: 'b', keyring: 'pii', version: 1, envelope: bytes('hb', 'body-b') },
    ]);
  });

  afterEach(() => {
    store.close();
    rmSync(home, { recursive: true, force: true });
  });

  describe('getHeader', () => {
    it('returns the header and revision without the body', async () => {
      // Prepare
      const full = (await store.get('a'))!;
      // Act
      const header = await store.getHeader('a');
      // Assess
      expect(header).toEqual({ id: 'a', keyring: 'pii', version: 1, originVersion: 1, header: full.envelope.subarray(0, HEADER), revision: full.revision });
      expect(await store.getHeader('missing')).toBeUndefined();
    });
  });

  describe('putHeaders', () => {
    it('replaces headers and keeps bodies, each write succeeding or conflicting on its own', async () => {
      // Prepare
      const a = (await store.get('a'))!;
      const b = (await store.get('b'))!;
      await store.put({ id: 'b', keyring: 'pii', version: 1, envelope: bytes('hb', 'newer-b') }, b.revision);
      // Act
      const outcomes = await store.putHeaders([
        { write: { id: 'a', keyring: 'pii', version: 2, header: Buffer.from('HA2'.padEnd(HEADER, '.')) }, expectedRevision: a.revision },
        { write: { id: 'b', keyring: 'pii', version: 2, header: Buffer.from('HB2'.padEnd(HEADER, '.')) }, expectedRevision: b.revision },
        { write: { id: 'zz', keyring: 'pii', version: 2, header: Buffer.from('HZ'.padEnd(HEADER, '.')) }, expectedRevision: null },
      ]);
      // Assess
      expect(outcomes.map((o) => o.ok)).toEqual([true, false, false]);
      expect(await store.get('a')).toMatchObject({ version: 2, envelope: bytes('HA2', 'body-a'), revision: (outcomes[0] as { revision: string }).revision });
      expect(await store.get('b')).toMatchObject({ version: 1, envelope: bytes('hb', 'newer-b') });
      expect(await store.get('zz')).toBeUndefined();
    });

    it('throws ValidationError and writes nothing when one write is invalid', async () => {
      // Prepare
      const a = (await store.get('a'))!;
      // Act
      const attempt = store.putHeaders([
        { write: { id: 'a', keyring: 'pii', version: 2, header: Buffer.from('HA2'.padEnd(HEADER, '.')) }, expectedRevision: a.revision },
        { write: { id: 'b', keyring: 'pii', version: 0, header: Buffer.from('x') }, expectedRevision: a.revision },
      ]);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      expect((await store.get('a'))?.version).toBe(1);
    });
  });

  describe('putBatch', () => {
    it('writes whole envelopes conditionally in one commit, reporting conflicts per write', async () => {
      // Prepare
      const a = (await store.get('a'))!;
      // Act
      const outcomes = await store.putBatch([
        { write: { id: 'a', keyring: 'pii', version: 3, envelope: bytes('h3', 'fresh-a') }, expectedRevision: a.revision },
        { write: { id: 'b', keyring: 'pii', version: 3, envelope: bytes('h3', 'fresh-b') }, expectedRevision: a.revision },
        { write: { id: 'c', keyring: 'pii', version: 3, envelope: bytes('h3', 'new-c') }, expectedRevision: null },
      ]);
      // Assess
      expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
      expect(await store.countByVersion('pii')).toEqual(new Map([[1, 1], [3, 2]]));
      expect((await store.get('b'))?.envelope).toEqual(bytes('hb', 'body-b'));
    });
  });
});
