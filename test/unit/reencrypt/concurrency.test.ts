/**
 * Application writers and readers racing the sweep: every store call yields a seeded random
 * number of event-loop turns, so each seed interleaves the sweep's read → re-wrap →
 * conditional write with application writes (and lazy re-wraps) differently. No application
 * write may ever be lost.
 */
import { SqliteCheckpointStore } from '../../../shared/adapters/local/sqlite-checkpoint-store';
import { SqliteRecordStore } from '../../../shared/adapters/local/sqlite-record-store';
import type { BatchRecordStore, RecordStore } from '../../../shared/ports/record-store';
import { RecordService, Sweeper, withHeaderRewrap } from '../../../shared/reencrypt';
import type { SweepMode } from '../../../shared/reencrypt';
import { LocalStack } from './support/local-stack';
import { jitter, prng } from './support/store-wrappers';

const M = 24;
const WRITERS = 3;
const idOf = (i: number): string => `rec-${String(i).padStart(2, '0')}`;

function jittered(store: SqliteRecordStore, random: () => number, batch: boolean): RecordStore {
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

describe('Sweeper', () => {
  let stack: LocalStack;
  let active: number;
  let seedRecords: Array<{ id: string; keyring: string; version: number; envelope: Buffer }>;

  beforeAll(async () => {
    stack = new LocalStack();
    await stack.createKeyring('pii');
    const service = stack.recordService();
    for (let i = 0; i < M; i += 1) await service.put(idOf(i), 'pii', Buffer.from(`initial ${i}`));
    seedRecords = await Promise.all(Array.from({ length: M }, async (_, i) => (await stack.records.get(idOf(i)))!));
    active = await stack.rotateAndPromote('pii');
  });

  afterAll(() => stack.close());

  describe('sweep', () => {
    it.each<[SweepMode, boolean]>([
      ['rewrap', true],
      ['rewrap', false],
      ['reencrypt', true],
      ['reencrypt', false],
    ])('loses no application write made while a %s sweep runs (batched writes: %p, 40 seeds)', async (mode, batched) => {
      for (let seed = 1; seed <= 40; seed += 1) {
        // Prepare
        const random = prng(seed);
        const base = new SqliteRecordStore({ path: ':memory:' });
        await base.putMany(seedRecords.map(({ id, keyring, version, envelope }) => ({ id, keyring, version, envelope })));
        const store = jittered(base, random, batched);
        const service = new RecordService({ records: store, envelopes: stack.envelopes, versions: stack.provider });
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
        const [result] = await Promise.all([
          sweeper.sweep('pii', 1, { mode, batchSize: 5, concurrency: 3, checkpoint: new SqliteCheckpointStore({ path: ':memory:' }) }),
          ...Array.from({ length: WRITERS }, (_, w) => writer(w)),
        ]);
        // Assess
        expect(result.failedCount).toBe(0);
        expect(result.remaining).toBe(0);
        expect(await base.countByVersion('pii')).toEqual(new Map([[active, M]]));
        for (let i = 0; i < M; i += 1) {
          expect((await service.get(idOf(i))).plaintext.toString()).toBe(expected.get(idOf(i)));
        }
        base.close();
      }
    });
  });
});
