/**
 * Wrappers around real ports for tests: delegation (override one method), a deterministic
 * scheduler that yields a seeded number of event-loop turns, and fault injection that throws
 * an "injected crash" before or after the k-th call of any wrapped port.
 */
import { isBatchRecordStore } from '../../../../shared/ports/record-store';
import type { BatchRecordStore, RecordStore } from '../../../../shared/ports/record-store';
import type { CatalogStore } from '../../../../shared/ports/catalog-store';
import { hasHeaderRewrap } from '../../../../shared/reencrypt';
import type { CheckpointStore, EnvelopeOps, HeaderEnvelopeOps } from '../../../../shared/reencrypt';

/** A RecordStore that delegates every call to `store` (spread it, then override). */
export function delegate(store: RecordStore): RecordStore {
  return {
    get: (id) => store.get(id),
    put: (r, e) => store.put(r, e),
    delete: (id, e) => store.delete(id, e),
    scanByVersion: (k, v, o) => store.scanByVersion(k, v, o),
    countByVersion: (k) => store.countByVersion(k),
    scanByOrigin: (k, v, o) => store.scanByOrigin(k, v, o),
    countByOrigin: (k) => store.countByOrigin(k),
  };
}

/** Mulberry32: a small seeded PRNG, so that every failing run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Yields between 0 and `max` macrotask turns, chosen by `random`: interleaves concurrent work. */
export async function jitter(random: () => number, max = 3): Promise<void> {
  const turns = Math.floor(random() * (max + 1));
  for (let i = 0; i < turns; i += 1) await new Promise<void>((r) => setImmediate(r));
}

/** The error a fault plan throws; anything else escaping a test run is a real failure. */
export class InjectedCrash extends Error {
  public constructor(public readonly point: string) {
    super(`injected crash at ${point}`);
  }
}

/**
 * Counts calls across every port it wraps and crashes at one of them: `at` is the call number
 * (1-based) and `when` says whether the call is skipped (`before`) or done and its result lost
 * (`after`). Records which named points were hit, to count distinct crash points.
 */
export class FaultPlan {
  private calls = 0;
  private armed: boolean;
  public crashedAt?: string;

  /** With `armed: false`, calls pass through uncounted until {@link arm} (setup is not a crash point). */
  public constructor(private readonly at: number, private readonly when: 'before' | 'after', options: { armed?: boolean } = {}) {
    this.armed = options.armed ?? true;
  }

  /** Starts counting calls. */
  public arm(): void {
    this.armed = true;
  }

  /** Total calls seen so far. */
  public get count(): number {
    return this.calls;
  }

  /** Runs `fn` as call number n, crashing if n is the planned point. */
  public async call<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (!this.armed) return fn();
    this.calls += 1;
    const hit = this.calls === this.at;
    const point = `${name}#${this.calls}:${this.when}`;
    if (hit && this.when === 'before') {
      this.crashedAt = point;
      throw new InjectedCrash(point);
    }
    const result = await fn();
    if (hit) {
      this.crashedAt = point;
      throw new InjectedCrash(point);
    }
    return result;
  }

  /** Wraps every method of a RecordStore, batch capabilities included when the store has them. */
  public records(store: RecordStore): RecordStore {
    const basic: RecordStore = {
      get: (id) => this.call('records.get', () => store.get(id)),
      put: (r, e) => this.call('records.put', () => store.put(r, e)),
      delete: (id, e) => this.call('records.delete', () => store.delete(id, e)),
      scanByVersion: (k, v, o) => this.call('records.scan', () => store.scanByVersion(k, v, o)),
      countByVersion: (k) => this.call('records.count', () => store.countByVersion(k)),
      scanByOrigin: (k, v, o) => this.call('records.scanByOrigin', () => store.scanByOrigin(k, v, o)),
      countByOrigin: (k) => this.call('records.countByOrigin', () => store.countByOrigin(k)),
    };
    if (!isBatchRecordStore(store)) return basic;
    const batch: BatchRecordStore = {
      ...basic,
      getHeader: (id) => this.call('records.getHeader', () => store.getHeader(id)),
      putHeaders: (w) => this.call('records.putHeaders', () => store.putHeaders(w)),
      putBatch: (w) => this.call('records.putBatch', () => store.putBatch(w)),
    };
    return batch;
  }

  /** Wraps the envelope operations that do cryptography (inspect is pure and stays direct). */
  public envelopes(ops: EnvelopeOps): EnvelopeOps {
    const basic: EnvelopeOps = {
      encrypt: (k, p, o) => this.call('envelope.encrypt', () => ops.encrypt(k, p, o)),
      decrypt: (e, o) => this.call('envelope.decrypt', () => ops.decrypt(e, o)),
      rewrap: (e, o) => this.call('envelope.rewrap', () => ops.rewrap(e, o)),
      inspect: (e) => ops.inspect(e),
    };
    if (!hasHeaderRewrap(ops)) return basic;
    const withHeader: HeaderEnvelopeOps = { ...basic, rewrapHeader: (h, o) => this.call('envelope.rewrapHeader', () => ops.rewrapHeader(h, o)) };
    return withHeader;
  }

  /** Wraps every method of a CatalogStore. */
  public catalogs(store: CatalogStore): CatalogStore {
    return {
      get: (k) => this.call('catalog.get', () => store.get(k)),
      list: () => this.call('catalog.list', () => store.list()),
      put: (c, e) => this.call('catalog.put', () => store.put(c, e)),
    };
  }

  /** Wraps every method of a CheckpointStore. */
  public checkpoints(store: CheckpointStore): CheckpointStore {
    return {
      get: (id) => this.call('checkpoint.get', () => store.get(id)),
      put: (id, c) => this.call('checkpoint.put', () => store.put(id, c)),
      clear: (id) => this.call('checkpoint.clear', () => store.clear(id)),
    };
  }
}
