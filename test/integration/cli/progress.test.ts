import { openLocal } from '../../../shared/compose/local/local-services';
import { drawnLines, hasScript, runInPty } from './support/pty';
import { TestHome, T0, at } from './support/test-home';

const NOW = new Date(T0).toISOString();

/** A keyring whose v1 is deprecated with `n` records still under it. */
async function homeToSweep(n: number): Promise<TestHome> {
  const home = new TestHome('rekey-progress-');
  await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m'], { now: NOW });
  const rk = await openLocal({ home: home.dir, clock: () => new Date(T0), actor: 'test-seed' });
  try {
    for (let i = 0; i < n; i += 1) await rk.recordService.put(`rec-${String(i).padStart(5, '0')}`, 'pii', Buffer.from(`payload ${i}`));
  } finally {
    await rk.close();
  }
  await home.ok(['rotate', 'pii'], { now: at(1) });
  await home.ok(['tick'], { now: at(1, 11) });
  await home.ok(['tick'], { now: at(9) });
  return home;
}

describe('rekey sweep progress on a terminal', () => {
  let home: TestHome;
  beforeAll(async () => {
    // util-linux `script` gives the pseudo-terminal; without it this suite cannot say anything.
    expect(hasScript()).toBe(true);
    home = await homeToSweep(1500);
  });
  afterAll(() => {
    home.remove();
  });

  it.each([40, 80])('redraws one line in place that fits %i columns, with counts, rate and ETA', async (columns) => {
    // Act: the first run sweeps; rotating again gives the second width its own records to sweep
    if (columns === 80) {
      await home.ok(['rotate', 'pii'], { now: at(40) });
      await home.ok(['tick'], { now: at(40, 11) });
      await home.ok(['tick'], { now: at(48) });
    }
    const r = await runInPty(['--home', home.dir, '--now', at(columns === 80 ? 48 : 9), 'sweep', 'pii', '--batch', '50', '--rate', '1500'], { columns });

    // Assess
    expect(r.code).toBe(0);
    // Redraws go back to the line start with \r, never onto new lines.
    expect(r.screen).toMatch(/\rsweep pii v\d/);
    const progress = drawnLines(r.screen).filter((l) => l.startsWith('sweep pii v') && !l.includes(': done'));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const line of progress) expect(line.length).toBeLessThan(columns);
    const last = progress[progress.length - 1] ?? '';
    expect(last).toContain('1,500/1,500');
    if (columns === 80) expect(last).toMatch(/\[#+\] 100% 1,500\/1,500 [\d,.]+\/s \S+( \S+)? ETA 0s/);
    else expect(last).toMatch(/1,500\/1,500.*ETA 0s|1,500\/1,500$/);
    expect(drawnLines(r.screen)).toContain(`v${columns === 80 ? 2 : 1} rewrap: done 1500, skipped 0, failed 0, remaining 0`);
  }, 60_000);
});
