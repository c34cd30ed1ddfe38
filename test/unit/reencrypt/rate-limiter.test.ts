import { systemSleep, TokenBucket } from '../../../shared/reencrypt/rate-limiter';
import type { Clock, Sleep } from '../../../shared/reencrypt/rate-limiter';
import { ValidationError } from '../../../shared/errors';

/** A virtual clock whose sleep advances time instantly and records every wait. */
function virtualTime(): { clock: Clock; sleep: Sleep; waits: number[]; now: () => number } {
  let t = 0;
  const waits: number[] = [];
  return {
    clock: { now: () => t },
    sleep: async (ms) => {
      waits.push(ms);
      t += ms;
    },
    waits,
    now: () => t,
  };
}

describe('TokenBucket', () => {
  describe('take', () => {
    it('serves the burst without sleeping when the bucket is full', async () => {
      // Prepare
      const time = virtualTime();
      const bucket = new TokenBucket({ ratePerSecond: 100, burst: 10, ...time });
      // Act
      for (let i = 0; i < 10; i += 1) await bucket.take();
      // Assess
      expect(bucket.stats()).toEqual({ taken: 10, sleeps: 0 });
      expect(time.now()).toBe(0);
    });

    it('holds the sustained rate: n tokens beyond the burst take n / rate seconds of virtual time', async () => {
      // Prepare
      const time = virtualTime();
      const bucket = new TokenBucket({ ratePerSecond: 50, burst: 5, ...time });
      // Act
      for (let i = 0; i < 105; i += 1) await bucket.take();
      // Assess: 5 from the burst, 100 more at 50/s = 2000 ms, one sleep per token beyond the burst
      expect(time.now()).toBe(2000);
      expect(time.waits).toHaveLength(100);
      expect(bucket.stats().taken).toBe(105);
    });

    it('shares the rate among concurrent takers in arrival order', async () => {
      // Prepare
      const time = virtualTime();
      const bucket = new TokenBucket({ ratePerSecond: 10, burst: 1, ...time });
      const order: number[] = [];
      // Act
      await Promise.all(Array.from({ length: 6 }, (_, i) => bucket.take().then(() => order.push(i))));
      // Assess
      expect(order).toEqual([0, 1, 2, 3, 4, 5]);
      expect(time.now()).toBe(500);
    });

    it('rejects with the abort reason and hands out no token when the signal aborts', async () => {
      // Prepare
      const time = virtualTime();
      const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1, ...time });
      await bucket.take();
      const controller = new AbortController();
      controller.abort(new Error('stop'));
      // Act
      const attempt = bucket.take(controller.signal);
      // Assess
      await expect(attempt).rejects.toThrow('stop');
      expect(bucket.stats().taken).toBe(1);
    });
  });

  describe('constructor', () => {
    it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('throws ValidationError for rate %p', (rate) => {
      // Act / Assess
      expect(() => new TokenBucket({ ratePerSecond: rate })).toThrow(ValidationError);
    });

    it('throws ValidationError for a burst below one token', () => {
      // Act / Assess
      expect(() => new TokenBucket({ ratePerSecond: 10, burst: 0.5 })).toThrow(ValidationError);
    });
  });

  describe('systemSleep', () => {
    it('resolves after the wait', async () => {
      // Act / Assess
      await expect(systemSleep(1)).resolves.toBeUndefined();
    });

    it('rejects with the signal\'s own reason when aborted before or during the wait', async () => {
      // Prepare
      const before = new AbortController();
      before.abort(new Error('stopped before'));
      const during = new AbortController();
      // Act
      const early = systemSleep(60_000, before.signal);
      const late = systemSleep(60_000, during.signal);
      during.abort(new Error('stopped during'));
      // Assess
      await expect(early).rejects.toThrow('stopped before');
      await expect(late).rejects.toThrow('stopped during');
    });
  });
});
