import { runBounded } from '../../../shared/reencrypt/bounded';

describe('runBounded', () => {
  describe('runBounded', () => {
    it('never has more than the limit in flight and returns results in input order', async () => {
      // Prepare
      let inFlight = 0;
      let peak = 0;
      const items = Array.from({ length: 50 }, (_, i) => i);
      // Act
      const results = await runBounded(items, 3, async (n) => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        // Varying numbers of turns of the event loop interleave the workers differently.
        for (let k = 0; k < (n * 7) % 5; k += 1) await Promise.resolve();
        inFlight -= 1;
        return n * 2;
      });
      // Assess
      expect(peak).toBe(3);
      expect(results).toEqual(items.map((n) => n * 2));
    });

    it('rethrows the first failure after the calls in flight settle, and starts no new call', async () => {
      // Prepare
      const started: number[] = [];
      let settled = 0;
      // Act
      const attempt = runBounded([0, 1, 2, 3, 4, 5], 2, async (n) => {
        started.push(n);
        await Promise.resolve();
        settled += 1;
        if (n === 1) throw new Error('boom');
        return n;
      });
      // Assess
      await expect(attempt).rejects.toThrow('boom');
      expect(settled).toBe(started.length);
      expect(started.length).toBeLessThan(6);
    });

    it('returns an empty array for no items', async () => {
      // Act / Assess
      expect(await runBounded([], 4, async () => 1)).toEqual([]);
    });
  });
});
