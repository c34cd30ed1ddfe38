import { DeadlineQueue } from '../../../shared/adapters/redis/deadline-queue';

class Expired extends Error {}

function queue(timeoutMs: number): DeadlineQueue {
  return new DeadlineQueue(timeoutMs, (label) => new Expired(`${label}: no reply within ${timeoutMs} ms`));
}

function openTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('DeadlineQueue', () => {
  describe('open', () => {
    it('rejects a call still open at its deadline with the error built from its label', async () => {
      // Prepare
      const deadlines = queue(20);
      // Act
      const call = deadlines.open<string>('get');
      // Assess
      await expect(call.promise).rejects.toThrow(new Expired('get: no reply within 20 ms'));
      expect(call.settled).toBe(true);
      expect(deadlines.openCalls).toBe(0);
    });

    it('expires every call left open and none that its owner settled, whatever the order', async () => {
      // Prepare
      const deadlines = queue(20);
      const calls = Array.from({ length: 6 }, (_, i) => deadlines.open<number>(`op${i}`));
      // Act
      calls[1]!.resolve(1);
      calls[4]!.reject(new Error('refused'));
      calls[5]!.resolve(5);
      const outcomes = await Promise.allSettled(calls.map((c) => c.promise));
      // Assess
      expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([
        'op0: no reply within 20 ms',
        1,
        'op2: no reply within 20 ms',
        'op3: no reply within 20 ms',
        'refused',
        5,
      ]);
      expect(deadlines.openCalls).toBe(0);
    });

    it('keeps the first outcome: a late reply after the deadline, or a second one, changes nothing', async () => {
      // Prepare
      const deadlines = queue(10);
      const late = deadlines.open<string>('set');
      const twice = deadlines.open<string>('get');
      twice.resolve('first');
      await expect(late.promise).rejects.toBeInstanceOf(Expired);
      // Act
      late.resolve('too late');
      twice.reject(new Error('second'));
      // Assess
      await expect(late.promise).rejects.toBeInstanceOf(Expired);
      await expect(twice.promise).resolves.toBe('first');
      expect(deadlines.openCalls).toBe(0);
    });
  });

  describe('timer', () => {
    it('holds one timer while calls are open, however many, and none once they are settled', async () => {
      // Prepare
      const deadlines = queue(60_000);
      const before = openTimers();
      // Act
      const calls = Array.from({ length: 100 }, (_, i) => deadlines.open<number>(`op${i}`));
      const whileOpen = openTimers();
      calls.forEach((c, i) => c.resolve(i));
      await Promise.all(calls.map((c) => c.promise));
      // Assess
      expect(whileOpen).toBe(before + 1);
      expect(openTimers()).toBe(before);
      expect(deadlines.openCalls).toBe(0);
    });

    it('still expires a younger call when the call its timer was armed for was settled', async () => {
      // Prepare: the timer is armed for `first`, which is settled before it fires.
      const before = openTimers();
      const deadlines = queue(15);
      const first = deadlines.open<number>('first');
      const second = deadlines.open<number>('second');
      const third = deadlines.open<number>('third');
      // Act
      first.resolve(1);
      third.resolve(3);
      // Assess
      await expect(second.promise).rejects.toThrow('second: no reply within 15 ms');
      await expect(first.promise).resolves.toBe(1);
      await expect(third.promise).resolves.toBe(3);
      expect(openTimers()).toBe(before);
    });
  });
});
