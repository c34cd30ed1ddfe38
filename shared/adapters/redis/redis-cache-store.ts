/**
 * RedisCacheStore: the CacheStore port over ioredis (standalone Redis, Valkey, ElastiCache, or
 * a cluster). Layout and reasoning: ./key-layout.ts and docs/cache.md.
 */
import type { Cluster, Redis } from 'ioredis';
import { BackendError, ValidationError } from '../../errors';
import type { CacheStore } from '../../ports/cache-store';
import { assertCacheKey, assertKeyring, assertTtl, assertValue, assertVersion } from '../../cache/cache-input';
import { DELETE_SCRIPT, INVALIDATE_BATCH_SCRIPT, SET_SCRIPT, type CacheScript } from './cache-scripts';
import { KeyLayout, stripHeader, valueHeader } from './key-layout';

/** Options of {@link RedisCacheStore}. */
export interface RedisCacheStoreOptions {
  /**
   * Prefix of every key this store writes (no braces).
   * @default 'rk:'
   */
  readonly keyPrefix?: string;
  /**
   * Hash-tag buckets one version's index is split into. Part of the key layout: every client
   * sharing a prefix must use the same value. Raise it (to about 4 x the shard count) on large
   * clusters so that entries spread over enough slots.
   * @default 16
   */
  readonly buckets?: number;
  /**
   * Deadline of one get, set or delete, in ms: past it the call fails with BackendError
   * (the encrypted cache turns that into a miss or a skipped write).
   * @default 100
   */
  readonly commandTimeoutMs?: number;
  /**
   * Deadline of one step of invalidateVersion or countByVersion, in ms.
   * @default 5000
   */
  readonly bulkTimeoutMs?: number;
  /**
   * Index members read and entries unlinked per invalidation step.
   * @default 256
   */
  readonly batchSize?: number;
}

const DEFAULTS = { keyPrefix: 'rk:', buckets: 16, commandTimeoutMs: 100, bulkTimeoutMs: 5000, batchSize: 256 } as const;

type RedisArg = string | Buffer | number;

/**
 * A CacheStore on Redis. Takes a client the caller created and connected (see
 * `createRedisClient`); never closes it.
 *
 * @example
 * const store = new RedisCacheStore(createRedisClient({ url: 'redis://127.0.0.1:6379' }), { keyPrefix: 'app:' });
 * await store.set('user:42', envelope, 300, 'payments', 3);
 * const raw = await store.get('user:42');
 */
export class RedisCacheStore implements CacheStore {
  private readonly layout: KeyLayout;
  private readonly commandTimeoutMs: number;
  private readonly bulkTimeoutMs: number;
  private readonly batchSize: number;
  // Headers of recently written (keyring, version) pairs: a handful in practice, bounded anyway.
  private readonly headers = new Map<string, Buffer>();

  public constructor(private readonly client: Redis | Cluster, options: RedisCacheStoreOptions = {}) {
    this.layout = new KeyLayout(options.keyPrefix ?? DEFAULTS.keyPrefix, options.buckets ?? DEFAULTS.buckets);
    this.commandTimeoutMs = positive(options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs, 'commandTimeoutMs');
    this.bulkTimeoutMs = positive(options.bulkTimeoutMs ?? DEFAULTS.bulkTimeoutMs, 'bulkTimeoutMs');
    this.batchSize = positive(options.batchSize ?? DEFAULTS.batchSize, 'batchSize');
  }

  /** Returns the stored value of `key` (without the store's header), or undefined on a miss. */
  public async get(key: string): Promise<Buffer | undefined> {
    assertCacheKey(key);
    const entry = this.layout.entryKey(key);
    const raw = await this.run('get', this.commandTimeoutMs, async () => {
      try {
        return await this.client.getBuffer(entry);
      } catch (err) {
        // Something else wrote another type at our key: garbage, dropped like any malformed value.
        if (err instanceof Error && err.message.startsWith('WRONGTYPE')) {
          await this.eval(DELETE_SCRIPT, [entry], [key, this.layout.indexBase(this.layout.bucketOf(key))]);
          return null;
        }
        throw err;
      }
    });
    return raw === null ? undefined : stripHeader(raw);
  }

  /** Stores `value` for `ttlSeconds` and indexes it under (keyring, version) in one atomic script. */
  public async set(key: string, value: Buffer, ttlSeconds: number, keyring: string, version: number): Promise<void> {
    assertCacheKey(key);
    assertValue(value);
    assertTtl(ttlSeconds);
    assertKeyring(keyring);
    assertVersion(version);
    const b = this.layout.bucketOf(key);
    const stored = Buffer.concat([this.header(keyring, version), value]);
    await this.run('set', this.commandTimeoutMs, () =>
      this.eval(
        SET_SCRIPT,
        [this.layout.entryKey(key, b), this.layout.indexKey(b, keyring, version), this.layout.versionsKey(b, keyring)],
        [stored, ttlSeconds * 1000, key, version, this.layout.indexBase(b)],
      ),
    );
  }

  /** Deletes `key` and its index membership; (keyring, version), when given, is also cleaned. */
  public async delete(key: string, keyring?: string, version?: number): Promise<void> {
    assertCacheKey(key);
    if ((keyring === undefined) !== (version === undefined)) throw new ValidationError('give both keyring and version, or neither');
    const b = this.layout.bucketOf(key);
    const keys = [this.layout.entryKey(key, b)];
    if (keyring !== undefined && version !== undefined) {
      assertKeyring(keyring);
      assertVersion(version);
      keys.push(this.layout.indexKey(b, keyring, version));
    }
    await this.run('delete', this.commandTimeoutMs, () => this.eval(DELETE_SCRIPT, keys, [key, this.layout.indexBase(b)]));
  }

  /**
   * Deletes every entry of (keyring, version): visits that version's index in each bucket
   * (concurrently) and unlinks its entries in batches. Work is proportional to the version's
   * entries plus the bucket count, whatever the size of the keyspace.
   */
  public async invalidateVersion(keyring: string, version: number): Promise<number> {
    assertKeyring(keyring);
    assertVersion(version);
    const perBucket = await Promise.all(range(this.layout.buckets).map((b) => this.invalidateBucket(b, keyring, version)));
    return perBucket.reduce((a, n) => a + n, 0);
  }

  /** Live (not yet expired) entries per version of `keyring`, from the indexes. */
  public async countByVersion(keyring: string): Promise<Map<number, number>> {
    assertKeyring(keyring);
    const [sec, micro] = await this.run('count', this.bulkTimeoutMs, () => this.client.time());
    const now = Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
    const perBucket = await Promise.all(
      range(this.layout.buckets).map(async (b) => {
        const versions = await this.run('count', this.bulkTimeoutMs, () => this.client.smembers(this.layout.versionsKey(b, keyring)));
        return Promise.all(
          versions.map(async (v) => {
            const n = await this.run('count', this.bulkTimeoutMs, () =>
              this.client.zcount(this.layout.indexKey(b, keyring, Number(v)), String(now), '+inf'),
            );
            return [Number(v), n] as const;
          }),
        );
      }),
    );
    const counts = new Map<number, number>();
    for (const [v, n] of perBucket.flat()) if (n > 0) counts.set(v, (counts.get(v) ?? 0) + n);
    return new Map([...counts.entries()].sort((a, b) => a[0] - b[0]));
  }

  private async invalidateBucket(b: number, keyring: string, version: number): Promise<number> {
    const index = this.layout.indexKey(b, keyring, version);
    const versions = this.layout.versionsKey(b, keyring);
    const header = valueHeader(keyring, version);
    let deleted = 0;
    for (;;) {
      const members = await this.run('invalidate', this.bulkTimeoutMs, () => this.client.zrange(index, '0', String(this.batchSize - 1)));
      if (members.length === 0) return deleted;
      const n = await this.run('invalidate', this.bulkTimeoutMs, () =>
        this.eval(
          INVALIDATE_BATCH_SCRIPT,
          [index, versions, ...members.map((m) => this.layout.entryKey(m, b))],
          [header, version, ...members],
        ),
      );
      deleted += Number(n);
      if (members.length < this.batchSize) return deleted;
    }
  }

  private header(keyring: string, version: number): Buffer {
    const id = `${version}:${keyring}`;
    let h = this.headers.get(id);
    if (h === undefined) {
      if (this.headers.size >= 256) this.headers.clear();
      this.headers.set(id, (h = valueHeader(keyring, version)));
    }
    return h;
  }

  private async eval(s: CacheScript, keys: readonly string[], args: readonly RedisArg[]): Promise<unknown> {
    try {
      return await this.client.evalsha(s.sha, keys.length, ...keys, ...args);
    } catch (err) {
      // First use on this server (or after a restart / SCRIPT FLUSH): send the source once.
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return this.client.eval(s.source, keys.length, ...keys, ...args);
      throw err;
    }
  }

  private run<T>(op: string, timeoutMs: number, call: () => Promise<T>): Promise<T> {
    // One timer and one promise per call (no Promise.race): this is on every get and set.
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(backendError(op, `no reply within ${timeoutMs} ms`)), timeoutMs);
      call().then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          // ioredis errors can carry the command and its arguments (keys, values): keep only the message.
          reject(backendError(op, err instanceof Error ? err.message : 'unknown error'));
        },
      );
    });
  }

}

function backendError(op: string, reason: string): BackendError {
  return new BackendError(`cache ${op} failed: ${reason}`, { cause: new Error(reason) });
}

function positive(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new ValidationError(`${name} must be a positive integer`);
  return n;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
