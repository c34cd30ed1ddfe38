import { randomBytes } from 'node:crypto';
import { VersionKeyCache } from '../../../shared/keys';
import { BackendError } from '../../../shared/errors';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

const nextMacrotask = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('VersionKeyCache', () => {
  describe('constructor', () => {
    it('throws RangeError for a non-positive bound', () => {
      // Act / Assess
      expect(() => new VersionKeyCache({ ttlMs: 0 })).toThrow(RangeError);
      expect(() => new VersionKeyCache({ maxUses: -1 })).toThrow(RangeError);
      expect(() => new VersionKeyCache({ maxEntries: Number.NaN })).toThrow(RangeError);
    });
  });

  describe('get', () => {
    it('coalesces 3,000 concurrent misses into one load', async () => {
      // Prepare
      const cache = new VersionKeyCache();
      let loads = 0;
      const key = randomBytes(32);
      const load = async (): Promise<Buffer> => {
        loads += 1;
        await new Promise((r) => setTimeout(r, 5));
        return Buffer.from(key);
      };
      // Act
      const keys = await Promise.all(Array.from({ length: 3000 }, () => cache.get('payments', 1, load)));
      // Assess
      expect(loads).toBe(1);
      expect(keys.every((k) => k.equals(key))).toBe(true);
      expect(cache.size).toBe(1);
    });

    it('keeps different versions and keyrings apart', async () => {
      // Prepare
      const cache = new VersionKeyCache();
      const calls: string[] = [];
      const load = (name: string) => async (): Promise<Buffer> => {
        calls.push(name);
        return Buffer.alloc(32, name.length);
      };
      // Act
      await Promise.all([cache.get('a', 1, load('a1')), cache.get('a', 2, load('a2')), cache.get('b', 1, load('b1')), cache.get('a', 1, load('again'))]);
      // Assess
      expect(calls.sort()).toEqual(['a1', 'a2', 'b1']);
    });

    it('reloads after the TTL and zeroes the expired key', async () => {
      // Prepare
      const c = clock();
      const cache = new VersionKeyCache({ ttlMs: 1000, clock: c.now });
      let loads = 0;
      const load = async (): Promise<Buffer> => {
        loads += 1;
        return Buffer.alloc(32, loads);
      };
      const first = await cache.get('k', 1, load);
      c.advance(999);
      await cache.get('k', 1, load);
      // Act
      c.advance(1);
      const second = await cache.get('k', 1, load);
      await nextMacrotask();
      // Assess
      expect(loads).toBe(2);
      expect(first.equals(Buffer.alloc(32))).toBe(true);
      expect(second.equals(Buffer.alloc(32, 2))).toBe(true);
    });

    it('reloads after maxUses hand-outs', async () => {
      // Prepare
      const cache = new VersionKeyCache({ maxUses: 3 });
      let loads = 0;
      const load = async (): Promise<Buffer> => {
        loads += 1;
        return Buffer.alloc(32, 1);
      };
      // Act
      for (let i = 0; i < 3; i += 1) await cache.get('k', 1, load);
      const loadsAfterThree = loads;
      await cache.get('k', 1, load);
      // Assess
      expect(loadsAfterThree).toBe(1);
      expect(loads).toBe(2);
    });

    it('counts every waiter of a coalesced load as a use', async () => {
      // Prepare
      const cache = new VersionKeyCache({ maxUses: 5 });
      let loads = 0;
      const load = async (): Promise<Buffer> => {
        loads += 1;
        return Buffer.alloc(32, 1);
      };
      // Act
      await Promise.all(Array.from({ length: 5 }, () => cache.get('k', 1, load)));
      await cache.get('k', 1, load);
      // Assess
      expect(loads).toBe(2);
    });

    it('does not cache a failed load', async () => {
      // Prepare
      const cache = new VersionKeyCache();
      let loads = 0;
      const failing = async (): Promise<Buffer> => {
        loads += 1;
        throw new BackendError('vault down');
      };
      // Act
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => cache.get('k', 1, failing)));
      await expect(cache.get('k', 1, failing)).rejects.toThrow(BackendError);
      const ok = await cache.get('k', 1, async () => Buffer.alloc(32, 9));
      // Assess
      expect(results.every((r) => r.status === 'rejected')).toBe(true);
      expect(loads).toBe(2);
      expect(ok.equals(Buffer.alloc(32, 9))).toBe(true);
      expect(cache.size).toBe(1);
    });

    it('rejects when load throws synchronously', async () => {
      // Prepare
      const cache = new VersionKeyCache();
      // Act / Assess
      await expect(
        cache.get('k', 1, () => {
          throw new BackendError('sync');
        }),
      ).rejects.toThrow(BackendError);
    });

    it('evicts the least recently used key beyond maxEntries and zeroes it', async () => {
      // Prepare
      const cache = new VersionKeyCache({ maxEntries: 2 });
      const k1 = await cache.get('k', 1, async () => Buffer.alloc(32, 1));
      await cache.get('k', 2, async () => Buffer.alloc(32, 2));
      await cache.get('k', 1, async () => Buffer.alloc(32, 99)); // touch 1: 2 is now oldest
      // Act
      await cache.get('k', 3, async () => Buffer.alloc(32, 3));
      let reloaded2 = false;
      await cache.get('k', 2, async () => ((reloaded2 = true), Buffer.alloc(32, 2)));
      await nextMacrotask();
      // Assess
      expect(reloaded2).toBe(true);
      expect(cache.size).toBe(2);
      expect(k1.equals(Buffer.alloc(32, 1)) || k1.equals(Buffer.alloc(32))).toBe(true);
    });

    it('zeroes a key only after the current turn, so a caller can still use it', async () => {
      // Prepare
      const c = clock();
      const cache = new VersionKeyCache({ ttlMs: 10, clock: c.now });
      const key = await cache.get('k', 1, async () => Buffer.alloc(32, 7));
      c.advance(10);
      // Act
      await cache.get('k', 1, async () => Buffer.alloc(32, 8)); // expires and drops the first key
      const stillUsable = key.equals(Buffer.alloc(32, 7));
      await nextMacrotask();
      // Assess
      expect(stillUsable).toBe(true);
      expect(key.equals(Buffer.alloc(32))).toBe(true);
    });
  });

  describe('peek', () => {
    it('returns undefined on a miss without loading anything', () => {
      // Prepare
      const cache = new VersionKeyCache();
      // Act
      const key = cache.peek('k', 1);
      // Assess
      expect(key).toBeUndefined();
      expect(cache.size).toBe(0);
    });

    it('returns the cached key synchronously and counts each peek as a use', async () => {
      // Prepare
      const cache = new VersionKeyCache({ maxUses: 3 });
      let loads = 0;
      const load = async (): Promise<Buffer> => {
        loads += 1;
        return Buffer.alloc(32, loads);
      };
      const loaded = await cache.get('k', 1, load);
      // Act
      const peeked = [cache.peek('k', 1), cache.peek('k', 1), cache.peek('k', 1)];
      await cache.get('k', 1, load);
      // Assess: 1 get + 2 peeks use the budget of 3; the third peek drops the key
      expect(peeked[0]).toBe(loaded);
      expect(peeked[1]).toBe(loaded);
      expect(peeked[2]).toBeUndefined();
      expect(loads).toBe(2);
    });

    it('returns undefined after the TTL and zeroes the expired key after the current turn', async () => {
      // Prepare
      const c = clock();
      const cache = new VersionKeyCache({ ttlMs: 1000, clock: c.now });
      const key = await cache.get('k', 1, async () => Buffer.alloc(32, 5));
      c.advance(999);
      const beforeTtl = cache.peek('k', 1);
      c.advance(1);
      // Act
      const afterTtl = cache.peek('k', 1);
      const stillUsable = key.equals(Buffer.alloc(32, 5));
      await nextMacrotask();
      // Assess
      expect(beforeTtl).toBe(key);
      expect(afterTtl).toBeUndefined();
      expect(stillUsable).toBe(true);
      expect(key.equals(Buffer.alloc(32))).toBe(true);
      expect(cache.size).toBe(0);
    });

    it('keeps least-recently-used order when the most recent key is peeked repeatedly', async () => {
      // Prepare
      const cache = new VersionKeyCache({ maxEntries: 2 });
      await cache.get('k', 1, async () => Buffer.alloc(32, 1));
      await cache.get('k', 2, async () => Buffer.alloc(32, 2));
      cache.peek('k', 2);
      cache.peek('k', 1); // 2 is now the oldest
      cache.peek('k', 1);
      // Act
      await cache.get('k', 3, async () => Buffer.alloc(32, 3));
      // Assess
      expect(cache.peek('k', 2)).toBeUndefined();
      expect(cache.peek('k', 1)?.equals(Buffer.alloc(32, 1))).toBe(true);
      expect(cache.peek('k', 3)?.equals(Buffer.alloc(32, 3))).toBe(true);
    });

    it('returns undefined after clear', async () => {
      // Prepare
      const cache = new VersionKeyCache();
      await cache.get('k', 1, async () => Buffer.alloc(32, 1));
      // Act
      cache.clear('k', 1);
      // Assess
      expect(cache.peek('k', 1)).toBeUndefined();
    });
  });

  describe('clear', () => {
    it('drops one keyring and keeps the others, and a load in flight is not cached', async () => {
      // Prepare
      const cache = new VersionKeyCache();
      await cache.get('a', 1, async () => Buffer.alloc(32, 1));
      await cache.get('b', 1, async () => Buffer.alloc(32, 2));
      let release: (b: Buffer) => void = () => undefined;
      const inFlight = cache.get('a', 2, () => new Promise<Buffer>((r) => (release = r)));
      // Act
      cache.clear('a');
      release(Buffer.alloc(32, 3));
      await inFlight;
      // Assess
      expect(cache.size).toBe(1);
      let reloaded = false;
      await cache.get('b', 1, async () => ((reloaded = true), Buffer.alloc(32)));
      expect(reloaded).toBe(false);
    });
  });
});
