import { MemoryCacheStore } from '../../../shared/adapters/local/memory-cache-store';
import { ValidationError } from '../../../shared/errors';

function clock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('MemoryCacheStore', () => {
  describe('get / set', () => {
    it('returns what was stored, as a copy the caller cannot alter', async () => {
      // Prepare
      const store = new MemoryCacheStore();
      const value = Buffer.from('envelope-bytes');
      await store.set('k', value, 60, 'ring', 1);
      // Act
      value.fill(0);
      const first = await store.get('k');
      first!.fill(0);
      const second = await store.get('k');
      // Assess
      expect(second?.toString()).toBe('envelope-bytes');
    });

    it('misses once the TTL has passed', async () => {
      // Prepare
      const c = clock();
      const store = new MemoryCacheStore({ now: c.now });
      await store.set('k', Buffer.from('v'), 2, 'ring', 1);
      // Act
      c.advance(1999);
      const before = await store.get('k');
      c.advance(1);
      const after = await store.get('k');
      // Assess
      expect(before?.toString()).toBe('v');
      expect(after).toBeUndefined();
    });

    it('refuses bad input with ValidationError and stores nothing', async () => {
      // Prepare
      const store = new MemoryCacheStore();
      // Act
      const attempts = [
        store.set('', Buffer.from('v'), 60, 'ring', 1),
        store.set('k', Buffer.alloc(0), 60, 'ring', 1),
        store.set('k', Buffer.from('v'), 0, 'ring', 1),
        store.set('k', Buffer.from('v'), 1.5, 'ring', 1),
        store.set('k', Buffer.from('v'), 60, 'ri\nng', 1),
        store.set('k', Buffer.from('v'), 60, 'ring', 0),
        store.set('\ud800', Buffer.from('v'), 60, 'ring', 1),
      ];
      // Assess
      for (const a of attempts) await expect(a).rejects.toBeInstanceOf(ValidationError);
      expect(store.size).toBe(0);
    });

    it('drops the oldest entries beyond maxEntries', async () => {
      // Prepare
      const store = new MemoryCacheStore({ maxEntries: 2 });
      // Act
      await store.set('a', Buffer.from('1'), 60, 'ring', 1);
      await store.set('b', Buffer.from('2'), 60, 'ring', 1);
      await store.set('c', Buffer.from('3'), 60, 'ring', 1);
      // Assess
      expect(await store.get('a')).toBeUndefined();
      expect((await store.countByVersion('ring')).get(1)).toBe(2);
    });
  });

  describe('invalidateVersion', () => {
    it('deletes the entries of one version and leaves the others', async () => {
      // Prepare
      const store = new MemoryCacheStore();
      for (let i = 0; i < 10; i++) await store.set(`k${i}`, Buffer.from('v'), 60, 'ring', (i % 3) + 1);
      await store.set('other', Buffer.from('v'), 60, 'other-ring', 2);
      // Act
      const deleted = await store.invalidateVersion('ring', 2);
      // Assess
      expect(deleted).toBe(3);
      expect(await store.countByVersion('ring')).toEqual(new Map([[1, 4], [3, 3]]));
      expect(await store.countByVersion('other-ring')).toEqual(new Map([[2, 1]]));
      expect(await store.get('k1')).toBeUndefined();
      expect(await store.get('k0')).toBeDefined();
    });

    it('moves an overwritten entry to its new version, so the old version no longer owns it', async () => {
      // Prepare
      const store = new MemoryCacheStore();
      await store.set('k', Buffer.from('old'), 60, 'ring', 1);
      await store.set('k', Buffer.from('new'), 60, 'ring', 2);
      // Act
      const deleted = await store.invalidateVersion('ring', 1);
      // Assess
      expect(deleted).toBe(0);
      expect((await store.get('k'))?.toString()).toBe('new');
      expect(await store.countByVersion('ring')).toEqual(new Map([[2, 1]]));
    });
  });

  describe('countByVersion', () => {
    it('does not count expired entries and sweeps them out of memory on later writes', async () => {
      // Prepare
      const c = clock();
      const store = new MemoryCacheStore({ now: c.now });
      for (let i = 0; i < 2000; i++) await store.set(`old${i}`, Buffer.from('v'), 1, 'ring', 1);
      c.advance(1000);
      // Act
      const counts = await store.countByVersion('ring');
      for (let i = 0; i < 2100; i++) await store.set(`new${i}`, Buffer.from('v'), 60, 'ring', 2);
      // Assess
      expect(counts.size).toBe(0);
      expect(store.size).toBe(2100);
      expect(await store.countByVersion('ring')).toEqual(new Map([[2, 2100]]));
    });
  });

  describe('delete', () => {
    it('removes the entry and its index membership', async () => {
      // Prepare
      const store = new MemoryCacheStore();
      await store.set('k', Buffer.from('v'), 60, 'ring', 1);
      // Act
      await store.delete('k');
      // Assess
      expect(await store.get('k')).toBeUndefined();
      expect((await store.countByVersion('ring')).size).toBe(0);
    });

    it('refuses a keyring without a version', async () => {
      // Prepare
      const store = new MemoryCacheStore();
      // Act
      const attempt = store.delete('k', 'ring');
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    });
  });
});
