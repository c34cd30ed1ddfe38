/**
 * MemoryCacheStore: the CacheStore port in process memory, the default cache of local mode.
 * Same semantics as the Redis store: TTL per entry, one index per (keyring, version) kept in
 * step with every write, overwrite under another version moves the entry between indexes.
 */
import { ValidationError } from '../../errors';
import type { CacheStore } from '../../ports/cache-store';
import { assertCacheKey, assertKeyring, assertTtl, assertValue, assertVersion } from '../../cache/cache-input';

/** Options of {@link MemoryCacheStore}. */
export interface MemoryCacheStoreOptions {
  /**
   * Most entries held; past it the oldest-written entries are dropped first.
   * @default 100000
   */
  readonly maxEntries?: number;
  /**
   * Clock in ms since the epoch (injectable so that tests control expiry).
   * @default Date.now
   */
  readonly now?: () => number;
}

interface Entry {
  readonly value: Buffer;
  readonly expiresAt: number;
  readonly indexKey: string;
}

/**
 * A CacheStore in a Map. Values are copied in and out, so callers cannot alter stored bytes.
 *
 * @example
 * const store = new MemoryCacheStore({ maxEntries: 10_000 });
 * await store.set('user:42', envelope, 300, 'payments', 3);
 * (await store.countByVersion('payments')).get(3); // 1
 */
export class MemoryCacheStore implements CacheStore {
  private readonly entries = new Map<string, Entry>();
  private readonly indexes = new Map<string, Set<string>>();
  private readonly maxEntries: number;
  private readonly now: () => number;
  private writesSinceSweep = 0;
  private sweepEvery = 1024;

  public constructor(options: MemoryCacheStoreOptions = {}) {
    const max = options.maxEntries ?? 100_000;
    if (!Number.isInteger(max) || max < 1) throw new ValidationError('maxEntries must be a positive integer');
    this.maxEntries = max;
    this.now = options.now ?? Date.now;
  }

  /** Returns a copy of the live value of `key`, or undefined. */
  public async get(key: string): Promise<Buffer | undefined> {
    assertCacheKey(key);
    const e = this.live(key);
    return e === undefined ? undefined : Buffer.from(e.value);
  }

  /** Stores a copy of `value` for `ttlSeconds`, indexed under (keyring, version). */
  public async set(key: string, value: Buffer, ttlSeconds: number, keyring: string, version: number): Promise<void> {
    assertCacheKey(key);
    assertValue(value);
    assertTtl(ttlSeconds);
    assertKeyring(keyring);
    assertVersion(version);
    this.remove(key);
    const indexKey = indexKeyOf(keyring, version);
    this.entries.set(key, { value: Buffer.from(value), expiresAt: this.now() + ttlSeconds * 1000, indexKey });
    let members = this.indexes.get(indexKey);
    if (members === undefined) this.indexes.set(indexKey, (members = new Set()));
    members.add(key);
    // Amortised O(1): a full sweep of expired entries once per as many writes as there are entries.
    if (++this.writesSinceSweep >= this.sweepEvery) this.sweep();
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.remove(oldest.value);
    }
  }

  /** Deletes `key` and its index membership. */
  public async delete(key: string, keyring?: string, version?: number): Promise<void> {
    assertCacheKey(key);
    if ((keyring === undefined) !== (version === undefined)) throw new ValidationError('give both keyring and version, or neither');
    if (keyring !== undefined) assertKeyring(keyring);
    if (version !== undefined) assertVersion(version);
    this.remove(key);
  }

  /** Deletes every entry of (keyring, version); returns how many live entries were deleted. */
  public async invalidateVersion(keyring: string, version: number): Promise<number> {
    assertKeyring(keyring);
    assertVersion(version);
    const indexKey = indexKeyOf(keyring, version);
    const members = this.indexes.get(indexKey);
    if (members === undefined) return 0;
    const now = this.now();
    let deleted = 0;
    for (const key of [...members]) {
      const e = this.entries.get(key);
      if (e !== undefined && e.expiresAt > now) deleted++;
      this.remove(key);
    }
    this.indexes.delete(indexKey);
    return deleted;
  }

  /** Live entries per version of `keyring`. */
  public async countByVersion(keyring: string): Promise<Map<number, number>> {
    assertKeyring(keyring);
    const now = this.now();
    const counts = new Map<number, number>();
    const prefix = `${keyring}\u0000`;
    for (const [indexKey, members] of this.indexes) {
      if (!indexKey.startsWith(prefix)) continue;
      let n = 0;
      for (const key of members) if ((this.entries.get(key)?.expiresAt ?? 0) > now) n++;
      if (n > 0) counts.set(Number(indexKey.slice(prefix.length)), n);
    }
    return new Map([...counts.entries()].sort((a, b) => a[0] - b[0]));
  }

  /** Entries held, expired ones not yet swept included (for tests and stats). */
  public get size(): number {
    return this.entries.size;
  }

  private live(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt > this.now()) return e;
    this.remove(key);
    return undefined;
  }

  private remove(key: string): void {
    const e = this.entries.get(key);
    if (e === undefined) return;
    this.entries.delete(key);
    const members = this.indexes.get(e.indexKey);
    if (members === undefined) return;
    members.delete(key);
    if (members.size === 0) this.indexes.delete(e.indexKey);
  }

  private sweep(): void {
    this.writesSinceSweep = 0;
    const now = this.now();
    for (const [key, e] of this.entries) if (e.expiresAt <= now) this.remove(key);
    this.sweepEvery = Math.max(1024, this.entries.size);
  }
}

function indexKeyOf(keyring: string, version: number): string {
  // NUL cannot occur in a keyring name (control characters are refused).
  return `${keyring}\u0000${version}`;
}
