import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../../../support/scratch';
import Database from 'better-sqlite3';
import { SqliteCatalogStore } from '../../../../shared/adapters/local/sqlite-catalog-store';
import { applyTransition, createCatalog } from '../../../../shared/catalog/lifecycle';
import type { Catalog } from '../../../../shared/catalog/model';
import { DEFAULT_POLICY } from '../../../../shared/catalog/policy';
import { BackendError, ConflictError, ValidationError } from '../../../../shared/errors';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const key = (n: number) => ({ wrappedKey: Buffer.from(`wrapped-${n}`).toString('base64'), wrappingKeyId: 'local:test' });

function catalog(name = 'ring'): Catalog {
  return createCatalog(name, DEFAULT_POLICY, key(1), T0);
}

function rotated(c: Catalog): Catalog {
  return { ...applyTransition(c, { kind: 'create-pending', version: 2, key: key(2) }, T0), generation: c.generation + 1 };
}

describe('SqliteCatalogStore', () => {
  let dir: string;
  let path: string;
  const opened: SqliteCatalogStore[] = [];
  const open = (options?: { busyTimeoutMs?: number }): SqliteCatalogStore => {
    const store = new SqliteCatalogStore(path, options);
    opened.push(store);
    return store;
  };

  beforeEach(() => {
    dir = scratchDir('rekey-catalog-');
    path = join(dir, 'catalog.db');
  });

  afterEach(() => {
    for (const s of opened.splice(0)) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('constructor', () => {
    it('opens the database in WAL mode with the history table', () => {
      // Act
      open();
      // Assess
      const raw = new Database(path, { readonly: true });
      try {
        expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
        const tables = raw.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r) => r.name);
        expect(tables).toEqual(expect.arrayContaining(['catalogs', 'catalog_history']));
      } finally {
        raw.close();
      }
    });

    it('throws BackendError when the file is not a database', () => {
      // Prepare
      writeFileSync(path, 'this is not sqlite, it is a text file long enough to have a header'.repeat(10));
      // Act / Assess
      expect(() => new SqliteCatalogStore(path)).toThrow(BackendError);
    });
  });

  describe('get', () => {
    it('returns undefined for a keyring that does not exist', async () => {
      // Act / Assess
      await expect(open().get('ring')).resolves.toBeUndefined();
    });

    it('throws ValidationError on a bad keyring name', async () => {
      // Act / Assess
      await expect(open().get('../etc')).rejects.toThrow(ValidationError);
    });

    it('throws BackendError when the stored JSON is corrupt', async () => {
      // Prepare
      const store = open();
      await store.put(catalog(), null);
      const raw = new Database(path);
      raw.prepare("UPDATE catalogs SET json = '{\"schema\":1,' WHERE keyring = 'ring'").run();
      raw.close();
      // Act / Assess
      await expect(store.get('ring')).rejects.toThrow(BackendError);
      await expect(store.get('ring')).rejects.toThrow(/not valid JSON/);
    });

    it('throws BackendError when the stored document does not match the schema or names another keyring', async () => {
      // Prepare
      const store = open();
      await store.put(catalog('ring'), null);
      await store.put(catalog('other'), null);
      const raw = new Database(path);
      raw.prepare("UPDATE catalogs SET json = json_set(json, '$.versions[0].state', 'lost') WHERE keyring = 'ring'").run();
      raw.prepare("UPDATE catalogs SET json = json_set(json, '$.keyring', 'ring') WHERE keyring = 'other'").run();
      raw.close();
      // Act / Assess
      await expect(store.get('ring')).rejects.toThrow(/stored catalog 'ring' \(write 1\) is corrupt: .*versions\.0\.state/);
      await expect(store.get('other')).rejects.toThrow(/names keyring 'ring'/);
    });
  });

  describe('list', () => {
    it('returns every keyring sorted', async () => {
      // Prepare
      const store = open();
      for (const name of ['zeta', 'alpha', 'mid']) await store.put(catalog(name), null);
      // Act / Assess
      await expect(store.list()).resolves.toEqual(['alpha', 'mid', 'zeta']);
    });
  });

  describe('put', () => {
    it('creates a catalog only when absent and returns its etag', async () => {
      // Prepare
      const store = open();
      // Act
      const etag = await store.put(catalog(), null);
      // Assess
      await expect(store.get('ring')).resolves.toEqual({ catalog: catalog(), etag });
      await expect(store.put(catalog(), null)).rejects.toThrow(ConflictError);
    });

    it('replaces the catalog when the etag matches and refuses a stale etag', async () => {
      // Prepare
      const store = open();
      const first = await store.put(catalog(), null);
      const next = rotated(catalog());
      // Act
      const second = await store.put(next, first);
      // Assess
      expect(second).not.toBe(first);
      await expect(store.put(next, first)).rejects.toThrow(ConflictError);
      await expect(store.get('ring')).resolves.toEqual({ catalog: next, etag: second });
    });

    it('refuses an etag for a keyring that does not exist', async () => {
      // Act / Assess
      await expect(open().put(catalog(), 'whatever')).rejects.toThrow(ConflictError);
    });

    it('gives a new etag to every write, even of identical content', async () => {
      // Prepare
      const store = open();
      const first = await store.put(catalog(), null);
      // Act
      const second = await store.put(catalog(), first);
      // Assess
      expect(second).not.toBe(first);
      await expect(store.put(catalog(), first)).rejects.toThrow(ConflictError);
    });

    it('keeps every write in the history', async () => {
      // Prepare
      const store = open();
      const first = await store.put(catalog(), null);
      const second = await store.put(rotated(catalog()), first);
      // Act
      const history = await store.history('ring');
      // Assess
      expect(history.map((h) => [h.generation, h.etag])).toEqual([
        [1, first],
        [2, second],
      ]);
      expect(history[1]?.catalog).toEqual(rotated(catalog()));
    });

    it('throws ValidationError on a malformed catalog and writes nothing', async () => {
      // Prepare
      const store = open();
      const bad = { ...catalog(), versions: [{ version: 'one' }] } as unknown as Catalog;
      // Act / Assess
      await expect(store.put(bad, null)).rejects.toThrow(ValidationError);
      await expect(store.put({ ...catalog(), keyring: 'Bad/Name' }, null)).rejects.toThrow(ValidationError);
      await expect(store.list()).resolves.toEqual([]);
    });

    it('lets exactly one of two connections win a race on the same etag', async () => {
      // Prepare
      const a = open();
      const b = open();
      const etag = await a.put(catalog(), null);
      const fromA = { ...rotated(catalog()), policy: { ...DEFAULT_POLICY, graceSeconds: 1 } };
      const fromB = { ...rotated(catalog()), policy: { ...DEFAULT_POLICY, graceSeconds: 2 } };
      // Act
      const results = await Promise.allSettled([a.put(fromA, etag), b.put(fromB, etag)]);
      // Assess
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected?.reason).toBeInstanceOf(ConflictError);
      expect((await b.history('ring')).length).toBe(2);
    });

    it('throws a retryable BackendError when another process holds the write lock past the busy timeout', async () => {
      // Prepare
      const store = open({ busyTimeoutMs: 50 });
      const etag = await store.put(catalog(), null);
      const other = new Database(path);
      other.exec('BEGIN IMMEDIATE');
      try {
        // Act
        const attempt = store.put(rotated(catalog()), etag);
        // Assess
        await expect(attempt).rejects.toThrow(BackendError);
        await expect(store.put(rotated(catalog()), etag)).rejects.toMatchObject({ retryable: true });
      } finally {
        other.exec('ROLLBACK');
        other.close();
      }
      await expect(store.put(rotated(catalog()), etag)).resolves.toEqual(expect.any(String));
    });

    it('persists across reopening the file', async () => {
      // Prepare
      const first = open();
      const etag = await first.put(catalog(), null);
      first.close();
      opened.splice(opened.indexOf(first), 1);
      // Act
      const reopened = open();
      // Assess
      await expect(reopened.get('ring')).resolves.toEqual({ catalog: catalog(), etag });
      expect(statSync(path).size).toBeGreaterThan(0);
    });
  });
});
