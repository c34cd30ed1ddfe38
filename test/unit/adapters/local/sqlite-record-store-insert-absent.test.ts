import { rmSync } from 'node:fs';
import { scratchDir } from '../../../support/scratch';
import { SqliteRecordStore } from '../../../../shared/adapters/local/sqlite-record-store';
import { ConflictError } from '../../../../shared/errors';

// Opaque envelopes with a fixed-size "header" (an injected split), as in sqlite-record-store.test.ts.
const HEADER = 8;
function bytes(header: string, body: string): Buffer {
  return Buffer.concat([Buffer.from(header.padEnd(HEADER, '.')), Buffer.from(body)]);
}

describe('SqliteRecordStore', () => {
  let home: string;
  let store: SqliteRecordStore;

  beforeEach(() => {
    home = scratchDir('rekey-records-absent-');
    store = new SqliteRecordStore({ home, headerLength: () => HEADER });
  });

  afterEach(() => {
    store.close();
    rmSync(home, { recursive: true, force: true });
  });

  describe('putBatch of only-if-absent writes (the bulk load path)', () => {
    it('inserts the absent ids and leaves an existing one exactly as it was', async () => {
      // Prepare
      const kept = await store.put({ id: 'b', keyring: 'pii', version: 1, envelope: bytes('hb', 'original') }, null);
      // Act
      const outcomes = await store.putBatch(['a', 'b', 'c'].map((id) => ({ write: { id, keyring: 'pii', version: 2, envelope: bytes(`h${id}`, `new-${id}`) }, expectedRevision: null })));
      // Assess
      expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
      expect(outcomes[1]).toEqual({ ok: false, reason: 'conflict' });
      expect(await store.get('b')).toEqual({ id: 'b', keyring: 'pii', version: 1, originVersion: 1, envelope: bytes('hb', 'original'), revision: kept });
      expect((await store.get('a'))?.envelope).toEqual(bytes('ha', 'new-a'));
      expect((await store.getHeader('c'))?.header).toEqual(Buffer.from('hc'.padEnd(HEADER, '.')));
      expect(await store.countByVersion('pii')).toEqual(new Map([[1, 1], [2, 2]]));
    });

    it('returns revisions that are new, distinct and usable for a conditional write', async () => {
      // Prepare
      const before = await store.put({ id: 'x', keyring: 'pii', version: 1, envelope: bytes('hx', 'x') }, null);
      // Act
      const outcomes = await store.putBatch(['p', 'q', 'r'].map((id) => ({ write: { id, keyring: 'pii', version: 1, envelope: bytes('h', id) }, expectedRevision: null })));
      const revisions = outcomes.map((o) => (o.ok ? o.revision : 'none'));
      const stored = await Promise.all(['p', 'q', 'r'].map(async (id) => (await store.get(id))?.revision));
      const next = await store.put({ id: 'q', keyring: 'pii', version: 2, envelope: bytes('h2', 'q2') }, revisions[1]);
      const stale = store.put({ id: 'q', keyring: 'pii', version: 3, envelope: bytes('h3', 'q3') }, revisions[1]);
      // Assess
      expect(stored).toEqual(revisions);
      expect(new Set([before, ...revisions]).size).toBe(4);
      for (const r of revisions) expect(Number(r)).toBeGreaterThan(Number(before));
      expect(Number(next)).toBeGreaterThan(Math.max(...revisions.map(Number)));
      await expect(stale).rejects.toBeInstanceOf(ConflictError);
    });

    it('never reuses a revision reserved for an id that turned out to exist', async () => {
      // Prepare: the batch reserves a revision for 'e', which exists and is skipped.
      await store.put({ id: 'e', keyring: 'pii', version: 1, envelope: bytes('he', 'e') }, null);
      const first = await store.putBatch(['e', 'f'].map((id) => ({ write: { id, keyring: 'pii', version: 1, envelope: bytes('h', id) }, expectedRevision: null })));
      // Act
      const later = await store.put({ id: 'g', keyring: 'pii', version: 1, envelope: bytes('hg', 'g') }, null);
      // Assess
      expect(first[1]?.ok).toBe(true);
      expect(Number(later)).toBeGreaterThan(Number(first[1]?.ok === true ? first[1].revision : Infinity));
      expect(await store.get('e')).toEqual(expect.objectContaining({ envelope: bytes('he', 'e') }));
    });
  });
});
