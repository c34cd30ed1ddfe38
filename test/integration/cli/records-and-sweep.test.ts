import { randomBytes } from 'node:crypto';
import { openLocal } from '../../../shared/compose/local/local-services';
import { TestHome, T0, at, expectFailure } from './support/test-home';

interface StatusJson { keyrings: Array<{ keyring: string; versions: Array<{ version: number; state: string; records: number }> }> }
interface SweepJson { version: number; mode: string; done: number; skipped: number; failedCount: number; failed: Array<{ id: string; reason: string }>; remaining: number; resumed: boolean; alreadyComplete: boolean }

const NOW = new Date(T0).toISOString();

async function distribution(home: TestHome, keyring = 'pii'): Promise<Array<[number, string, number]>> {
  const s = await home.json<StatusJson>(['status', keyring, '--json']);
  return (s.keyrings[0]?.versions ?? []).map((v) => [v.version, v.state, v.records]);
}

/** Writes `n` records straight through the local services (the CLI would take a process each). */
async function seed(home: TestHome, n: number, prefix = 'rec'): Promise<Map<string, Buffer>> {
  const rk = await openLocal({ home: home.dir, clock: () => new Date(T0), actor: 'test-seed' });
  const written = new Map<string, Buffer>();
  try {
    for (let i = 0; i < n; i += 1) {
      const id = `${prefix}-${String(i).padStart(4, '0')}`;
      const plaintext = randomBytes(64 + (i % 200));
      await rk.recordService.put(id, 'pii', plaintext);
      written.set(id, plaintext);
    }
  } finally {
    await rk.close();
  }
  return written;
}

/** Rotates pii and lets the propagation window and then the grace period pass. */
async function rotateAndDeprecate(home: TestHome): Promise<void> {
  await home.ok(['rotate', 'pii'], { now: at(1) });
  await home.ok(['tick', '--at', at(1, 11)]);
  await home.ok(['tick', '--at', at(9)]);
}

describe('rekey CLI records and sweep (local mode)', () => {
  let home: TestHome;
  beforeEach(async () => {
    home = new TestHome();
    await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m'], { now: NOW });
  });
  afterEach(() => {
    home.remove();
  });

  describe('records put / get', () => {
    it('stores stdin as an encrypted record and prints it back, with and without extra context', async () => {
      // Prepare
      const plain = randomBytes(5000);

      // Act
      const put = await home.ok(['records', 'put', 'user-1', '--keyring', 'pii'], { stdin: plain, now: NOW });
      await home.ok(['records', 'put', 'user-2', '--keyring', 'pii', '--context', 'tenant=acme'], { stdin: Buffer.from('bound'), now: NOW });
      const get1 = await home.ok(['records', 'get', 'user-1'], { now: NOW });
      const get2 = await home.ok(['records', 'get', 'user-2', '--context', 'tenant=acme'], { now: NOW });
      const wrong = await home.run(['records', 'get', 'user-2', '--context', 'tenant=evil'], { now: NOW });
      const missingCtx = await home.run(['records', 'get', 'user-2'], { now: NOW });
      const absent = await home.run(['records', 'get', 'nobody'], { now: NOW });

      // Assess
      expect({ stdout: put.stdout.length, stderr: put.stderr }).toEqual({ stdout: 0, stderr: `rekey: acted on local home ${home.dir}\n` });
      expect(get1.stdout.equals(plain)).toBe(true);
      expect(get2.stdout.toString()).toBe('bound');
      expectFailure(wrong, 3, /unable to decrypt/);
      expectFailure(missingCtx, 3, /unable to decrypt/);
      expectFailure(absent, 4, /record 'nobody' does not exist/);
      expect(await distribution(home)).toEqual([[1, 'active', 2]]);
    });

    it('re-wraps a record lazily when it is read after a rotation, visible in status', async () => {
      // Prepare
      await home.ok(['records', 'put', 'a', '--keyring', 'pii'], { stdin: Buffer.from('alpha'), now: NOW });
      await home.ok(['records', 'put', 'b', '--keyring', 'pii'], { stdin: Buffer.from('beta'), now: NOW });
      await home.ok(['rotate', 'pii'], { now: at(1) });
      await home.ok(['tick', '--at', at(1, 11)]);
      const before = await distribution(home);

      // Act
      const read = await home.ok(['records', 'get', 'a'], { now: at(1, 12) });

      // Assess
      expect(read.stdout.toString()).toBe('alpha');
      expect(before).toEqual([[1, 'rotating', 2], [2, 'active', 0]]);
      expect(await distribution(home)).toEqual([[1, 'rotating', 1], [2, 'active', 1]]);
    });

    it('refuses a put to an unknown keyring with exit 4 and stores nothing', async () => {
      // Prepare
      const before = await home.snapshot();

      // Act
      const r = await home.run(['records', 'put', 'x', '--keyring', 'nope'], { stdin: Buffer.from('x') });

      // Assess
      expectFailure(r, 4, /unknown keyring 'nope'/);
      expect(await home.snapshot()).toBe(before);
    });
  });

  describe('sweep', () => {
    it('re-wraps every record of the old version with a progress bar and exact counts', async () => {
      // Prepare
      const written = await seed(home, 250);
      await rotateAndDeprecate(home);

      // Act
      const r = await home.ok(['sweep', 'pii', '--batch', '40', '--concurrency', '8'], { now: at(9), stderrIsTTY: true });

      // Assess
      expect(r.stdout.toString()).toBe('v1 rewrap: done 250, skipped 0, failed 0, remaining 0\n');
      expect(r.stderr).toMatch(/sweep pii v1 \[#+\] 100% 250\/250 /);
      expect(await distribution(home)).toEqual([[1, 'deprecated', 0], [2, 'active', 250]]);
      for (const id of ['rec-0000', 'rec-0123', 'rec-0249']) {
        expect((await home.ok(['records', 'get', id], { now: at(9) })).stdout.equals(written.get(id) as Buffer)).toBe(true);
      }
    });

    it('is a no-op when run again after it completed', async () => {
      // Prepare
      await seed(home, 30);
      await rotateAndDeprecate(home);
      await home.ok(['sweep', 'pii'], { now: at(9) });
      const before = await home.snapshot();

      // Act
      const again = await home.json<SweepJson[]>(['sweep', 'pii', '--json'], { now: at(9) });
      const text = await home.ok(['sweep', 'pii', '--version', '1'], { now: at(9) });

      // Assess
      expect(again).toEqual([expect.objectContaining({ version: 1, done: 0, remaining: 0, alreadyComplete: true })]);
      expect(text.stdout.toString()).toBe('v1 rewrap: done 0, skipped 0, failed 0, remaining 0 (already complete)\n');
      // Nothing changed but the audit trail, which records that each run happened and moved nothing.
      const was = JSON.parse(before) as { status: string; audit: string; files: string[] };
      const now = JSON.parse(await home.snapshot()) as { status: string; audit: string; files: string[] };
      expect({ status: now.status, files: now.files }).toEqual({ status: was.status, files: was.files });
      expect(now.audit.startsWith(was.audit)).toBe(true);
      const added = now.audit.slice(was.audit.length).split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
      const noop = { mode: 'rewrap', done: 0, skipped: 0, failed: 0, remaining: 0, switchedToReencrypt: false, aborted: false };
      expect(added).toEqual([0, 1].map(() => expect.objectContaining({ at: at(9), action: 'sweep.completed', keyring: 'pii', version: 1, details: noop })));
    });

    it('resumes an interrupted sweep from its checkpoint instead of starting over', async () => {
      // Prepare: a sweep of 300 records stopped after its first batch of 100.
      await seed(home, 300);
      await rotateAndDeprecate(home);
      const rk = await openLocal({ home: home.dir, clock: () => new Date(at(9)), actor: 'test' });
      const stop = new AbortController();
      const first = await rk.sweeper.sweep('pii', 1, { mode: 'rewrap', checkpoint: rk.checkpoints, batchSize: 100, signal: stop.signal, onProgress: () => stop.abort() });
      await rk.close();

      // Act
      const resumed = await home.json<SweepJson[]>(['sweep', 'pii', '--json', '--batch', '100'], { now: at(9) });

      // Assess
      expect(first).toMatchObject({ done: 100, remaining: 200, aborted: true });
      expect(resumed).toEqual([expect.objectContaining({ version: 1, resumed: true, done: 200, failedCount: 0, remaining: 0 })]);
      expect(await distribution(home)).toEqual([[1, 'deprecated', 0], [2, 'active', 300]]);
    });

    it('lets a tick disable the swept version once its key went unused for the quiet period', async () => {
      // Prepare
      await seed(home, 20);
      await rotateAndDeprecate(home);
      await home.ok(['sweep', 'pii'], { now: at(9) });

      // Act: the sweep itself unwrapped v1 at day 9, so its key must now go unused for the
      // quiet period (7 days) before a tick may disable it.
      const early = await home.ok(['tick', '--at', at(9, 1)]);
      const stillUsed = await distribution(home);
      const tick = await home.ok(['tick', '--at', at(16, 1)]);

      // Assess
      expect(early.stdout.toString()).toBe('pii: nothing due\n');
      expect(stillUsed).toEqual([[1, 'deprecated', 0], [2, 'active', 20]]);
      expect(tick.stdout.toString()).toBe('pii: disable v1\n');
      expect(await distribution(home)).toEqual([[1, 'disabled', 0], [2, 'active', 20]]);
    });

    it.each([
      [['--mode', 'shred'], 2, /--mode must be rewrap or reencrypt/],
      [['--version', '0'], 2, /--version must be between/],
      [['--version', 'two'], 2, /--version must be a positive integer/],
      [['--version', '7'], 4, /no version 7/],
      [['--version', '2'], 2, /active version/],
      [['--rate', '-5'], 2, /--rate must be a positive integer/],
      [['--batch', '1e3'], 2, /--batch must be a positive integer/],
      [['--concurrency', '99999'], 2, /concurrency must be an integer between/],
    ])('refuses %j with exit %i and changes nothing', async (flags, code, message) => {
      // Prepare
      await seed(home, 5);
      await rotateAndDeprecate(home);
      const before = await home.snapshot();

      // Act
      const r = await home.run(['sweep', 'pii', ...flags], { now: at(9) });

      // Assess
      expectFailure(r, code, message);
      expect(await home.snapshot()).toBe(before);
    });
  });
});
