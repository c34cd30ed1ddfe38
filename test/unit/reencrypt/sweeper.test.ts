import { ValidationError } from '../../../shared/errors';
import type { RecordStore } from '../../../shared/ports/record-store';
import { recordContext, Sweeper, sweepIdOf } from '../../../shared/reencrypt';
import type { SweepProgress } from '../../../shared/reencrypt';
import { LocalStack } from './support/local-stack';
import { delegate } from './support/store-wrappers';

const N = 23;
const idOf = (i: number): string => `rec-${String(i).padStart(3, '0')}`;
const valueOf = (i: number): Buffer => Buffer.from(`value of record ${i} `.repeat(1 + (i % 5)));

describe('Sweeper', () => {
  let stack: LocalStack;
  let active: number;

  beforeEach(async () => {
    // Prepare (shared): N records under v1, then v2 promoted to active.
    stack = new LocalStack();
    await stack.createKeyring('pii');
    const service = stack.recordService();
    for (let i = 0; i < N; i += 1) await service.put(idOf(i), 'pii', valueOf(i), { context: { tenant: `t${i % 3}` } });
    active = await stack.rotateAndPromote('pii');
  });

  afterEach(() => stack.close());

  async function expectAllReadable(version: number): Promise<void> {
    const service = stack.recordService();
    for (let i = 0; i < N; i += 1) {
      const stored = await stack.records.get(idOf(i));
      expect(stored?.version).toBe(version);
      expect((await service.get(idOf(i), { context: { tenant: `t${i % 3}` } })).plaintext).toEqual(valueOf(i));
    }
  }

  describe('sweep', () => {
    it.each([
      ['header-only batches', (st: LocalStack) => st.sweeper()],
      ['whole-envelope batches', (st: LocalStack) => st.sweeper(st.records, { headerRewrap: false })],
      ['one put per record', (st: LocalStack) => st.sweeper(delegate(st.records), { headerRewrap: false })],
    ])('re-wraps every record to the active version without touching payloads, reporting progress per batch (%s)', async (_path, sweeperOf) => {
      // Prepare
      const bodies = new Map<string, Buffer>();
      for (let i = 0; i < N; i += 1) {
        const e = (await stack.records.get(idOf(i)))!.envelope;
        bodies.set(idOf(i), Buffer.from(e.subarray(stack.envelopes.inspect(e).headerLength)));
      }
      const progress: SweepProgress[] = [];
      // Act
      const result = await sweeperOf(stack).sweep('pii', 1, { mode: 'rewrap', batchSize: 5, checkpoint: stack.checkpoints, onProgress: (p) => progress.push(p) });
      // Assess
      expect(result).toMatchObject({ done: N, skipped: 0, failedCount: 0, remaining: 0, toVersion: active, resumed: false, aborted: false });
      expect(progress.map((p) => p.done)).toEqual([5, 10, 15, 20, N]);
      expect(progress.every((p) => p.total === N)).toBe(true);
      for (let i = 0; i < N; i += 1) {
        const e = (await stack.records.get(idOf(i)))!.envelope;
        expect(e.subarray(stack.envelopes.inspect(e).headerLength)).toEqual(bodies.get(idOf(i)));
      }
      await expectAllReadable(active);
    });

    it('re-encrypts with a fresh data key in reencrypt mode, with the context the application resolves', async () => {
      // Prepare
      const before = (await stack.records.get(idOf(0)))!.envelope;
      const bodyOf = (e: Buffer): Buffer => e.subarray(stack.envelopes.inspect(e).headerLength);
      const contextFor = (record: { id: string }): Record<string, string> =>
        recordContext(record.id, { tenant: `t${Number(record.id.slice(4)) % 3}` });
      // Act
      const result = await stack.sweeper().sweep('pii', 1, { mode: 'reencrypt', batchSize: 7, checkpoint: stack.checkpoints, contextFor });
      // Assess
      expect(result).toMatchObject({ done: N, remaining: 0 });
      const after = (await stack.records.get(idOf(0)))!.envelope;
      expect(bodyOf(after).equals(bodyOf(before))).toBe(false);
      await expectAllReadable(active);
    });

    it('reports records whose caller context it cannot know as failed, and leaves them readable', async () => {
      // Act: the tenant context is neither stored in the envelopes nor resolved by a contextFor
      const result = await stack.sweeper().sweep('pii', 1, { mode: 'reencrypt', checkpoint: stack.checkpoints });
      // Assess
      expect(result).toMatchObject({ done: 0, failedCount: N, remaining: N });
      expect(new Set(result.failed.map((f) => f.reason))).toEqual(new Set(['decrypt-failed']));
      await expectAllReadable(1);
    });

    it('re-encrypts records whose context is stored in the envelope without any resolver', async () => {
      // Prepare
      // A keyring of its own: a re-encryption covers every record whose data key the version
      // wrapped, and the shared records of this suite need a resolver.
      const service = stack.recordService();
      await stack.createKeyring('side');
      await service.put('stored-ctx', 'side', Buffer.from('kept'), { context: { tenant: 'z' }, storeContext: true });
      const v2 = await stack.rotateAndPromote('side');
      // Act
      const result = await stack.sweeper().sweep('side', 1, { mode: 'reencrypt', checkpoint: stack.checkpoints });
      // Assess
      expect(result).toMatchObject({ done: 1, failedCount: 0, remaining: 0 });
      expect((await service.get('stored-ctx', { context: { tenant: 'z' } })).version).toBe(v2);
    });

    it('holds the rate limit: one token per record, sleeping for every record beyond the burst', async () => {
      // Prepare
      let t = 0;
      const waits: number[] = [];
      const sweeper = new Sweeper({
        records: stack.records,
        envelopes: stack.envelopes,
        versions: stack.provider,
        clock: { now: () => t },
        sleep: async (ms) => {
          waits.push(ms);
          t += ms;
        },
      });
      // Act: 20 records/s with the default burst of 2 tokens
      const result = await sweeper.sweep('pii', 1, { mode: 'rewrap', ratePerSecond: 20, concurrency: 3, checkpoint: stack.checkpoints });
      // Assess
      expect(result.rateLimiter).toEqual({ taken: N, sleeps: N - 2 });
      expect(waits).toHaveLength(N - 2);
      expect(t).toBe(((N - 2) / 20) * 1000);
      expect(result.done).toBe(N);
    });

    it('never has more records in flight than its concurrency', async () => {
      // Prepare
      let inFlight = 0;
      let peak = 0;
      const counting: RecordStore = {
        ...delegate(stack.records),
        get: async (id) => {
          inFlight += 1;
          peak = Math.max(peak, inFlight);
          await new Promise<void>((r) => setImmediate(r));
          return stack.records.get(id);
        },
        put: async (r, e) => {
          const rev = await stack.records.put(r, e);
          inFlight -= 1;
          return rev;
        },
      };
      // Act
      const result = await stack.sweeper(counting).sweep('pii', 1, { mode: 'rewrap', batchSize: 10, concurrency: 3, checkpoint: stack.checkpoints });
      // Assess
      expect(result.done).toBe(N);
      expect(peak).toBe(3);
    });

    it('resumes from its checkpoint after an abort, and a completed sweep is a no-op', async () => {
      // Prepare
      const controller = new AbortController();
      const first = await stack.sweeper().sweep('pii', 1, {
        mode: 'rewrap', batchSize: 4, checkpoint: stack.checkpoints, signal: controller.signal,
        onProgress: (p) => { if (p.done >= 8) controller.abort(); },
      });
      const saved = await stack.checkpoints.get(sweepIdOf('pii', 1, 'rewrap'));
      // Act
      const second = await stack.sweeper().sweep('pii', 1, { mode: 'rewrap', batchSize: 4, checkpoint: stack.checkpoints });
      const revisions = await Promise.all(Array.from({ length: N }, async (_, i) => (await stack.records.get(idOf(i)))!.revision));
      const third = await stack.sweeper().sweep('pii', 1, { mode: 'rewrap', batchSize: 4, checkpoint: stack.checkpoints });
      // Assess
      expect(first).toMatchObject({ done: 8, aborted: true, remaining: N - 8 });
      expect(saved).toMatchObject({ completed: false, done: 8 });
      expect(second).toMatchObject({ done: N - 8, resumed: true, remaining: 0 });
      expect(await stack.checkpoints.get(sweepIdOf('pii', 1, 'rewrap'))).toMatchObject({ completed: true, done: N });
      expect(third).toMatchObject({ done: 0, alreadyComplete: true, remaining: 0 });
      expect(await Promise.all(Array.from({ length: N }, async (_, i) => (await stack.records.get(idOf(i)))!.revision))).toEqual(revisions);
      await expectAllReadable(active);
    });

    it('skips a record written concurrently and keeps the newer write', async () => {
      // Prepare
      const service = stack.recordService();
      const racing: RecordStore = {
        ...delegate(stack.records),
        get: async (id) => {
          const read = await stack.records.get(id);
          if (id === idOf(4)) await service.put(id, 'pii', Buffer.from('newer'), { context: { tenant: 't1' } });
          return read;
        },
      };
      // Act
      const result = await stack.sweeper(racing).sweep('pii', 1, { mode: 'rewrap', checkpoint: stack.checkpoints });
      // Assess
      expect(result).toMatchObject({ done: N - 1, skipped: 1, remaining: 0 });
      expect((await service.get(idOf(4), { context: { tenant: 't1' } })).plaintext.toString()).toBe('newer');
    });

    it('reports a record it cannot open as failed with a typed reason and leaves it in place', async () => {
      // Prepare: flip a bit of the wrapped data key in one record's header
      const victim = (await stack.records.get(idOf(2)))!;
      const broken = Buffer.from(victim.envelope);
      const slot = stack.envelopes.inspect(broken).headerLength - 1;
      broken[slot] = (broken[slot] as number) ^ 1;
      await stack.records.put({ id: victim.id, keyring: 'pii', version: 1, envelope: broken }, victim.revision);
      // Act
      const result = await stack.sweeper().sweep('pii', 1, { mode: 'rewrap', checkpoint: stack.checkpoints });
      // Assess
      expect(result).toMatchObject({ done: N - 1, failedCount: 1, failed: [{ id: idOf(2), reason: 'decrypt-failed' }], remaining: 1 });
      expect((await stack.records.get(idOf(2)))?.envelope).toEqual(broken);
      expect(JSON.stringify(result.failed)).not.toContain('value of record');
    });

    it('throws ValidationError when asked to re-wrap a revoked version or to sweep the active one', async () => {
      // Prepare
      await stack.keyrings.revoke('pii', 1, { reason: 'test', actor: 'test' });
      stack.provider.invalidate('pii');
      const current = (await stack.keyrings.get('pii')).versions.find((v) => v.state === 'active')!.version;
      // Act / Assess
      await expect(stack.sweeper().sweep('pii', 1, { mode: 'rewrap', checkpoint: stack.checkpoints })).rejects.toBeInstanceOf(ValidationError);
      await expect(stack.sweeper().sweep('pii', current, { mode: 'reencrypt', checkpoint: stack.checkpoints })).rejects.toBeInstanceOf(ValidationError);
      expect((await stack.records.countByVersion('pii')).get(1)).toBe(N);
    });

    it.each([{ batchSize: 0 }, { concurrency: 0 }, { batchSize: 1.5 }, { ratePerSecond: -1 }])('throws ValidationError for bad options %p', async (bad) => {
      // Act / Assess
      await expect(stack.sweeper().sweep('pii', 1, { mode: 'rewrap', checkpoint: stack.checkpoints, ...bad })).rejects.toBeInstanceOf(ValidationError);
      expect((await stack.records.countByVersion('pii')).get(1)).toBe(N);
    });
  });
});
