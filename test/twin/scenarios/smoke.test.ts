import { Twin } from '../twin';

jest.setTimeout(300_000);

describe('twin smoke', () => {
  it('stands up and ticks', async () => {
    const t0 = Date.now();
    const twin = await Twin.standUp();
    try {
      console.log('standup ms', Date.now() - t0, 'functions', twin.world.functions.size, 'schedules', twin.world.schedules.size);
      const t1 = Date.now();
      await twin.advance(60 * 60 * 1000);
      console.log('1h ms', Date.now() - t1, 'fired', twin.scheduler.fired.length);
      console.log(twin.scheduler.fired.slice(0, 20).map((f) => `${f.schedule} ${f.outcome} ${f.error?.message ?? ''}`).join('\n'));
      const denied = twin.world.requestLog.filter((r) => !r.allowed);
      console.log('denied', denied.slice(0, 20).map((d) => `${d.caller} ${d.action} ${d.reason}`).join('\n'));
      console.log('bg errors', twin.backgroundErrors.slice(0, 10));
      const logs = twin.runtime.invocationLogs.slice(0, 6).map((l) => `${l.functionName}: ${l.logs.map((x) => x.text).join(' | ').slice(0, 600)}`);
      console.log(logs.join('\n'));
      expect(twin.world.functions.size).toBeGreaterThan(0);
    } finally {
      await twin.close();
    }
  });
});
