/**
 * The sweep's crash-injection and concurrency properties, written once against the RecordStore
 * port and run on every store (SQLite in test/unit/reencrypt, S3, DynamoDB and PostgreSQL on
 * their real servers in test/integration/reencrypt):
 *
 * - crash injection: the sweep is killed at every call it makes to its ports (record store,
 *   checkpoint store, envelope operations), before the call or after it with the result lost,
 *   then resumed (sometimes crashing again) until it completes; every run converges with no
 *   record lost, every record decrypting to its original plaintext under the active version;
 * - concurrency: application writers and lazy re-wraps race the sweep, every store call
 *   yielding a seeded random number of event-loop turns; no application write is ever lost.
 */
import { SqliteCheckpointStore } from '../../shared/adapters/local/sqlite-checkpoint-store';
import type { BatchRecordStore, RecordStore } from '../../shared/ports/record-store';
import { recordContext, RecordService, Sweeper, withHeaderRewrap } from '../../shared/reencrypt';
import type { SweepMode, SweepResult } from '../../shared/reencrypt';
import { LocalStack } from '../unit/reencrypt/support/local-stack';
import { delegate, FaultPlan, InjectedCrash, jitter, prng } from '../unit/reencrypt/support/store-wrappers';
import type { ContractHandle } from './record-store-contract';

type Path = 'header' | 'batch' | 'per-record';
type Seed = { id: string; keyring: string; version: number; envelope: Buffer };

/** Options of {@link describeSweepCrashInjection}. */
export interface CrashSuiteOptions {
  /**
   * Crash at every `stride`-th call (1: every call). Stores on a server use a larger stride to
   * keep the run short; the distinct crash points reached are still asserted.
   */
  readonly stride: number;
  /** Distinct crash points that each path must reach at least. */
  readonly minPoints: number;
}

async function load(store: BatchRecordStore, seeds: readonly Seed[]): Promise<void> {
  const outcomes = await store.putBatch(seeds.map((write) => ({ write, expectedRevision: null })));
  if (!outcomes.every((o) => o.ok)) throw new Error('could not load the seed records');
}

/**
 * Crash injection of the sweep over the store `open` returns (a fresh store per run).
 *
 * @example
 * describeSweepCrashInjection('SqliteRecordStore', openSqliteContractStore, { stride: 1, minPoints: 20 });
 */
export function describeSweepCrashInjection(name: string, open: () => Promise<ContractHandle>, options: CrashSuiteOptions): void {
  const M = 17;
  const idOf = (i: number): string => `rec-${String(i).padStart(2, '0')}`;
  const valueOf = (i: number): Buffer => Buffer.from(`record ${i} payload `.repeat(1 + (i % 4)));
  const contextOf = (i: number): { tenant: string } => ({ tenant: `t${i % 2}` });

  describe(`Sweeper over ${name} (crash injection)`, () => {
    let stack: LocalStack;
    let snapshot: Seed[];
    let active: number;
    let from: number;

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
      from = snapshot[0]!.version;
      active = await stack.rotateAndPromote('pii');
    });

    afterAll(() => stack.close());

    async function fresh(): Promise<{ h: ContractHandle; checkpoints: SqliteCheckpointStore; close: () => Promise<void> }> {
      const h = await open();
      await load(h.store, snapshot);
      const checkpoints = new SqliteCheckpointStore({ path: ':memory:' });
      return { h, checkpoints, close: async () => { checkpoints.close(); await h.close(); } };
    }

    function sweepWith(plan: FaultPlan | undefined, records: BatchRecordStore, checkpoints: SqliteCheckpointStore, mode: SweepMode, path: Path): Promise<SweepResult> {
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
      return sweeper.sweep('pii', from, { mode, batchSize: 4, concurrency: 3, checkpoint: plan?.checkpoints(checkpoints) ?? checkpoints, contextFor });
    }

    async function assessConverged(records: RecordStore): Promise<void> {
      expect(await records.countByVersion('pii')).toEqual(new Map([[active, M]]));
      const service = new RecordService({ records, envelopes: stack.envelopes, versions: stack.provider });
      for (let i = 0; i < M; i += 1) {
        expect((await service.get(idOf(i), { context: contextOf(i) })).plaintext).toEqual(valueOf(i));
      }
    }

    async function cleanRunCalls(mode: SweepMode, path: Path): Promise<number> {
      const run = await fresh();
      const counter = new FaultPlan(Number.MAX_SAFE_INTEGER, 'before');
      await sweepWith(counter, run.h.store, run.checkpoints, mode, path);
      await run.close();
      return counter.count;
    }

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
      let planned = 0;
      for (const when of ['before', 'after'] as const) {
        for (let k = 1; k <= total; k += options.stride) {
          planned += 1;
          const run = await fresh();
          const random = prng(k * 31 + (when === 'after' ? 7 : 0));
          // Act: crash at call k, then resume; a resume crashes again at a random call half the time.
          const plan = new FaultPlan(k, when);
          await expect(sweepWith(plan, run.h.store, run.checkpoints, mode, path)).rejects.toBeInstanceOf(InjectedCrash);
          points.add(plan.crashedAt!);
          let result: SweepResult | undefined;
          for (let attempt = 0; result === undefined; attempt += 1) {
            const again = attempt < 3 && random() < 0.5 ? new FaultPlan(1 + Math.floor(random() * total), random() < 0.5 ? 'before' : 'after') : undefined;
            try {
              result = await sweepWith(again, run.h.store, run.checkpoints, mode, path);
            } catch (err) {
              if (!(err instanceof InjectedCrash)) throw err;
            }
          }
          // Assess
          expect(result.remaining).toBe(0);
          expect(result.failedCount).toBe(0);
          await assessConverged(run.h.peer);
          await run.close();
          runs += 1;
        }
      }
      expect(points.size).toBeGreaterThanOrEqual(options.minPoints);
      expect(runs).toBe(planned);
      // Hundreds of sweeps against a real server: far more than jest's default.
    }, 900_000);
  });
}

function jittered(store: BatchRecordStore, random: () => number, batch: boolean): RecordStore {
  const basic: RecordStore = {
    get: async (id) => { await jitter(random); const r = await store.get(id); await jitter(random); return r; },
    put: async (r, e) => { await jitter(random); return store.put(r, e); },
    delete: async (id, e) => { await jitter(random); return store.delete(id, e); },
    scanByVersion: async (k, v, o) => { await jitter(random); return store.scanByVersion(k, v, o); },
    countByVersion: async (k) => store.countByVersion(k),
    scanByOrigin: async (k, v, o) => { await jitter(random); return store.scanByOrigin(k, v, o); },
    countByOrigin: async (k) => store.countByOrigin(k),
  };
  if (!batch) return basic;
  const withBatch: BatchRecordStore = {
    ...basic,
    getHeader: async (id) => { await jitter(random); const r = await store.getHeader(id); await jitter(random); return r; },
    putHeaders: async (w) => { await jitter(random); return store.putHeaders(w); },
    putBatch: async (w) => { await jitter(random); return store.putBatch(w); },
  };
  return withBatch;
}

/**
 * Application writers racing the sweep over the store `open` returns, `seeds` seeded runs per case.
 *
 * @example
 * describeSweepConcurrency('SqliteRecordStore', openSqliteContractStore, { seeds: 40 });
 */
export function describeSweepConcurrency(name: string, open: () => Promise<ContractHandle>, options: { seeds: number }): void {
  const M = 24;
  const WRITERS = 3;
  const idOf = (i: number): string => `rec-${String(i).padStart(2, '0')}`;

  describe(`Sweeper over ${name} (concurrent writers)`, () => {
    let stack: LocalStack;
    let active: number;
    let from: number;
    let seedRecords: Seed[];

    beforeAll(async () => {
      stack = new LocalStack();
      await stack.createKeyring('pii');
      const service = stack.recordService();
      for (let i = 0; i < M; i += 1) await service.put(idOf(i), 'pii', Buffer.from(`initial ${i}`));
      seedRecords = await Promise.all(Array.from({ length: M }, async (_, i) => (await stack.records.get(idOf(i)))!));
      from = seedRecords[0]!.version;
      active = await stack.rotateAndPromote('pii');
    });

    afterAll(() => stack.close());

    it.each<[SweepMode, boolean]>([
      ['rewrap', true],
      ['rewrap', false],
      ['reencrypt', true],
      ['reencrypt', false],
    ])(`loses no application write made while a %s sweep runs (batched writes: %p, ${options.seeds} seeds)`, async (mode, batched) => {
      for (let seed = 1; seed <= options.seeds; seed += 1) {
        // Prepare
        const random = prng(seed);
        const h = await open();
        await load(h.store, seedRecords.map(({ id, keyring, version, envelope }) => ({ id, keyring, version, envelope })));
        const store = jittered(h.store, random, batched);
        // The application writes through its own client (another process).
        const service = new RecordService({ records: jittered(h.peer, random, batched), envelopes: stack.envelopes, versions: stack.provider });
        const sweeper = new Sweeper({ records: store, envelopes: withHeaderRewrap(stack.envelopes, stack.provider), versions: stack.provider });
        const expected = new Map<string, string>(Array.from({ length: M }, (_, i) => [idOf(i), `initial ${i}`]));
        // Each writer owns every WRITERS-th record and writes its records in sequence, reading
        // others on the way (lazy re-wraps racing the sweep too).
        const writer = async (w: number): Promise<void> => {
          for (let round = 0; round < 3; round += 1) {
            for (let i = w; i < M; i += WRITERS) {
              if (random() < 0.4) {
                const value = `seed ${seed} writer ${w} round ${round} record ${i}`;
                await service.put(idOf(i), 'pii', Buffer.from(value));
                expected.set(idOf(i), value);
              } else {
                await service.get(idOf((i + 1) % M));
              }
            }
          }
        };
        // Act
        const checkpoint = new SqliteCheckpointStore({ path: ':memory:' });
        const [result] = await Promise.all([
          sweeper.sweep('pii', from, { mode, batchSize: 5, concurrency: 3, checkpoint }),
          ...Array.from({ length: WRITERS }, (_, w) => writer(w)),
        ]);
        // Assess
        expect(result.failedCount).toBe(0);
        expect(result.remaining).toBe(0);
        expect(await h.store.countByVersion('pii')).toEqual(new Map([[active, M]]));
        for (let i = 0; i < M; i += 1) {
          expect((await service.get(idOf(i))).plaintext.toString()).toBe(expected.get(idOf(i)));
        }
        checkpoint.close();
        await h.close();
      }
    }, 900_000);
  });
}
