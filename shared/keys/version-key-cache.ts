/**
 * VersionKeyCache: unwrapped version keys held in process memory, bounded by age, by number
 * of uses and by number of entries; concurrent misses for one key share a single load.
 */

/** Options of {@link VersionKeyCache}. */
export interface VersionKeyCacheOptions {
  /** How long a loaded key may be used, in milliseconds. @default 300000 (5 min) */
  readonly ttlMs?: number;
  /** How many times a loaded key may be handed out before it is loaded again. @default 1048576 (2^20) */
  readonly maxUses?: number;
  /** Most keys held at once; the least recently used goes first. @default 1000 */
  readonly maxEntries?: number;
  /** Milliseconds since the epoch (injectable for tests). @default Date.now */
  readonly clock?: () => number;
}

interface Entry {
  readonly key: Buffer;
  readonly loadedAt: number;
  uses: number;
}

function cacheKey(keyring: string, version: number): string {
  // Keyring names never contain '#', so the key is unambiguous.
  return `${keyring}#${version}`;
}

/**
 * Keys are zeroed when they leave the cache, but only on the next macrotask: a caller that
 * received a key resumes in a microtask of the current turn and has finished using it by then.
 */
function zeroLater(key: Buffer): void {
  setImmediate(() => key.fill(0));
}

/**
 * Cache of unwrapped version keys keyed by (keyring, version).
 *
 * - Bounded by TTL, uses and entries; an expired or evicted key is zeroed.
 * - Concurrent misses for the same key are coalesced into one `load` call.
 * - A failed load is not cached: the next caller tries again.
 *
 * Returned keys belong to the cache: use them synchronously after the await, never keep them.
 *
 * @example
 * const cache = new VersionKeyCache({ ttlMs: 60_000 });
 * const key = await cache.get('payments', 3, () => vault.unwrap(wrapped, { keyring: 'payments', version: '3' }));
 */
export class VersionKeyCache {
  private readonly ttlMs: number;
  private readonly maxUses: number;
  private readonly maxEntries: number;
  private readonly clock: () => number;
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, { readonly promise: Promise<Buffer>; waiters: number }>();
  // The most recently used entry: a hit on it needs no LRU re-insertion (the common case of
  // one hot keyring version), which saves two Map operations per message.
  private mru: Entry | undefined;
  // Bumped by clear(): a load that started before a clear must not repopulate the cache.
  private epoch = 0;

  public constructor(options: VersionKeyCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 5 * 60 * 1000;
    this.maxUses = options.maxUses ?? 2 ** 20;
    this.maxEntries = options.maxEntries ?? 1000;
    this.clock = options.clock ?? Date.now;
    for (const [name, value] of [['ttlMs', this.ttlMs], ['maxUses', this.maxUses], ['maxEntries', this.maxEntries]] as const) {
      if (!Number.isFinite(value) || value <= 0) throw new RangeError(`VersionKeyCache ${name} must be a positive number`);
    }
  }

  /** Number of keys currently held. */
  public get size(): number {
    return this.entries.size;
  }

  /**
   * Returns the key of (keyring, version) when it is cached within its TTL and use budget,
   * counting one use, else undefined (an expired or used-up key is dropped and zeroed). The
   * synchronous fast path of {@link get}: no promise, no load.
   *
   * @example
   * const key = cache.peek('payments', 3) ?? (await cache.get('payments', 3, load));
   */
  public peek(keyring: string, version: number): Buffer | undefined {
    const id = cacheKey(keyring, version);
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    if (this.clock() - entry.loadedAt < this.ttlMs && entry.uses < this.maxUses) {
      entry.uses += 1;
      if (this.mru !== entry) {
        // Re-insert to keep the Map in least-recently-used order.
        this.entries.delete(id);
        this.entries.set(id, entry);
        this.mru = entry;
      }
      return entry.key;
    }
    this.drop(id, entry);
    return undefined;
  }

  /**
   * Returns the key of (keyring, version), calling `load` only on a miss (once for any number
   * of concurrent misses). `load` must resolve to a fresh 32-byte Buffer the cache may own.
   */
  public get(keyring: string, version: number, load: () => Promise<Buffer>): Promise<Buffer> {
    const hit = this.peek(keyring, version);
    if (hit !== undefined) return Promise.resolve(hit);
    const id = cacheKey(keyring, version);
    const pending = this.loading.get(id);
    if (pending !== undefined) {
      pending.waiters += 1;
      return pending.promise;
    }
    const epoch = this.epoch;
    let started: Promise<Buffer>;
    try {
      started = load();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const loaded = started.then(
      (key) => {
        const waiters = this.loading.get(id)?.waiters ?? 1;
        this.loading.delete(id);
        if (epoch === this.epoch) this.store(id, key, waiters);
        else zeroLater(key);
        return key;
      },
      (err: unknown) => {
        this.loading.delete(id);
        throw err;
      },
    );
    this.loading.set(id, { promise: loaded, waiters: 1 });
    return loaded;
  }

  /** Drops (and zeroes) one key, every version of a keyring, or everything. */
  public clear(keyring?: string, version?: number): void {
    this.epoch += 1;
    for (const [id, entry] of this.entries) {
      if (keyring === undefined || (version === undefined ? id.startsWith(`${keyring}#`) : id === cacheKey(keyring, version))) this.drop(id, entry);
    }
  }

  private store(id: string, key: Buffer, uses: number): void {
    const previous = this.entries.get(id);
    if (previous !== undefined) this.drop(id, previous);
    // Every waiter of the coalesced load counts as one use.
    const entry: Entry = { key, loadedAt: this.clock(), uses };
    this.entries.set(id, entry);
    this.mru = entry;
    while (this.entries.size > this.maxEntries) {
      const [oldestId, oldest] = this.entries.entries().next().value as [string, Entry];
      this.drop(oldestId, oldest);
    }
  }

  private drop(id: string, entry: Entry): void {
    this.entries.delete(id);
    if (this.mru === entry) this.mru = undefined;
    zeroLater(entry.key);
  }
}
