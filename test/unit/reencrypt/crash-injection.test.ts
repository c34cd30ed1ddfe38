/**
 * Crash injection: the sweep is killed at every call it makes to its ports (record store,
 * checkpoint store, envelope operations), before the call or after it with the result lost,
 * then resumed (sometimes crashing again) until it completes. Every run must converge: no
 * record lost, every record decryptable to its original plaintext, all under the active version.
 */
import { SqliteCheckpointStore } from '../../../shared/adapters/local/sqlite-checkpoint-store';
import { SqliteRecordStore } from '../../../shared/adapters/local/sqlite-record-store';
import type { RecordInput } from '../../../shared/adapters/local/sqlite-record-store';
import type { RecordStore } from '../../../shared/ports/record-store';
import { recordContext, RecordService, Sweeper, withHeaderRewrap } from '../../../shared/reencrypt';
import type { SweepMode, SweepResult } from '../../../shared/reencrypt';
import { LocalStack } from './support/local-stack';
import { delegate, FaultPlan, InjectedCrash, prng } from './support/store-wrappers';

const M = 17;
type Path = 'header' | 'batch' | 'per-record';
const idOf = (i: number): string => `rec-${String(i).padStart(2, '0')}`;
const valueOf = (i: number): Buffer => Buffer.from(`record ${i} payload `.repeat(1 + (i % 4)));
const contextOf = (i: number): { tenant: string } => ({ tenant: `t${i % 2}` });

describe('Sweeper', () => {
  let stack: LocalStack;
  let snapshot: RecordInput[];
  let active: number;

  beforeAll(async () => {
    stack = new LocalStack();
    await stack.createKeyring('pii');
    const service = stack.recordService();
    for (let i = 0; i < M; i += 1) await service.put(idOf(i), 'pii', valueOf(i), { context: contextOf(i) });
    snapshot = [];
    for (let i = 0; i < M; i += 1) {
      const r = (await stack.records.get(idOf(i)))!;
      snapshot.push({ id: r.id, keyring: r.keyring, version: r.version, envelope: r.envelope });
    }
    active = await stack.rotateAndPromote('pii');
  });

  afterAll(() => stack.close());

  async function freshStores(): Promise<{ records: SqliteRecordStore; checkpoints: SqliteCheckpointStore }> {
    const records = new SqliteRecordStore({ path: ':memory:' });
    await records.putMany(snapshot);
    return { records, checkpoints: new SqliteCheckpointStore({ path: ':memory:' }) };
  }

  function sweepWith(plan: FaultPlan | undefined, records: SqliteRecordStore, checkpoints: SqliteCheckpointStore, mode: SweepMode, path: Path): Promise<SweepResult> {
    // The three write paths of the sweeper: header-only batches, whole-envelope batches, and
    // one conditional put per record (a store without the batch capabilities).
    const store: RecordStore = path === 'per-record' ? delegate(records) : records;
    const envelopes = path === 'header' ? withHeaderRewrap(stack.envelopes, stack.provider) : stack.envelopes;
    const sweeper = new Sweeper({
      records: plan?.records(store) ?? store,
      envelopes: plan?.envelopes(envelopes) ?? envelopes,
      versions: stack.provider,
    });
    // The application knows each record's tenant; the emergency sweep asks it (reencrypt mode).
    const contextFor = (record: { id: string }): Record<string, string> => recordContext(record.id, contextOf(Number(record.id.slice(4))));
    return sweeper.sweep('pii', 1, { mode, batchSize: 4, concurrency: 3, checkpoint: plan?.checkpoints(checkpoints) ?? checkpoints, contextFor });
  }

  async function assessConverged(records: SqliteRecordStore): Promise<void> {
    expect(await records.countByVersion('pii')).toEqual(new Map([[active, M]]));
    const service = new RecordService({ records, envelopes: stack.envelopes, versions: stack.provider });
    for (let i = 0; i < M; i += 1) {
      expect((await service.get(idOf(i), { context: contextOf(i) })).plaintext).toEqual(valueOf(i));
    }
  }

  async function cleanRunCalls(mode: SweepMode, path: Path): Promise<number> {
    const { records, checkpoints } = await freshStores();
    const counter = new FaultPlan(Number.MAX_SAFE_INTEGER, 'before');
    await sweepWith(counter, records, checkpoints, mode, path);
    records.close();
    checkpoints.close();
    return counter.count;
  }

  describe('sweep', () => {
    it.each<[SweepMode, Path]>([
      ['rewrap', 'header'],
      ['rewrap', 'batch'],
      ['rewrap', 'per-record'],
      ['reencrypt', 'batch'],
      ['reencrypt', 'per-record'],
    ])('converges after a crash at any call of a %s sweep (%s writes), resumed repeatedly', async (mode, path) => {
      // Prepare
      const total = await cleanRunCalls(mode, path);
      const points = new Set<string>();
      let runs = 0;
      for (const when of ['before', 'after'] as const) {
        for (let k = 1; k <= total; k += 1) {
          const { records, checkpoints } = await freshStores();
          const random = prng(k * 31 + (when === 'after' ? 7 : 0));
          // Act: crash at call k, then resume; a resume crashes again at a random call half the time.
          const plan = new FaultPlan(k, when);
          await expect(sweepWith(plan, records, checkpoints, mode, path)).rejects.toBeInstanceOf(InjectedCrash);
          points.add(plan.crashedAt!);
          let result: SweepResult | undefined;
          for (let attempt = 0; result === undefined; attempt += 1) {
            const again = attempt < 3 && random() < 0.5 ? new FaultPlan(1 + Math.floor(random() * total), random() < 0.5 ? 'before' : 'after') : undefined;
            try {
              result = await sweepWith(again, records, checkpoints, mode, path);
            } catch (err) {
              if (!(err instanceof InjectedCrash)) throw err;
            }
          }
          // Assess
          expect(result.remaining).toBe(0);
          expect(result.failedCount).toBe(0);
          await assessConverged(records);
          records.close();
          checkpoints.close();
          runs += 1;
        }
      }
      expect(points.size).toBeGreaterThanOrEqual(20);
      expect(runs).toBe(2 * total);
    });
  });
});
