/**
 * RedisCacheStore: the CacheStore port over ioredis (standalone Redis, Valkey, ElastiCache, or
 * a cluster). Layout and reasoning: ./key-layout.ts and docs/cache.md.
 */
import { Cluster, type Redis } from 'ioredis';
import { BackendError, ValidationError } from '../../errors';
import type { CacheStore } from '../../ports/cache-store';
import { assertCacheKey, assertKeyring, assertTtl, assertValue, assertVersion } from '../../cache/cache-input';
import { DELETE_SCRIPT, INVALIDATE_BATCH_SCRIPT, SET_SCRIPT, WRITE_BATCH_BYTES, type CacheScript } from './cache-scripts';
import { DeadlineQueue, type PendingCall } from './deadline-queue';
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
  /**
   * Most writes sent in one script call. Writes issued in the same tick (concurrent sets) are
   * coalesced into as few calls as this allows (per bucket in cluster mode, as they must stay
   * in one slot); each is still indexed atomically with its value.
   * @default 64
   */
  readonly writeBatchSize?: number;
}

const DEFAULTS = { keyPrefix: 'rk:', buckets: 16, commandTimeoutMs: 100, bulkTimeoutMs: 5000, batchSize: 256, writeBatchSize: 64 } as const;

type RedisArg = string | Buffer | number;

/** Precomputed names and header of one (keyring, version). */
interface VersionKeys {
  readonly header: Buffer;
  /** Index key per bucket, filled on first use. */
  readonly index: (string | undefined)[];
}

/** A write waiting for the end of the tick to be sent with the others. */
interface QueuedWrite {
  readonly bucket: number;
  readonly entry: string;
  readonly index: string;
  readonly stored: Buffer;
  readonly ttlMs: number;
  readonly member: string;
  readonly call: PendingCall<void>;
}

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
  private readonly batchSize: number;
  private readonly writeBatchSize: number;
  private readonly cluster: boolean;
  // One deadline queue per timeout: one timer each instead of one per call.
  private readonly fast: DeadlineQueue;
  private readonly bulk: DeadlineQueue;
  // `<prefix>{<b>}:e:` per bucket: an entry key is one concatenation away.
  private readonly entryBases: readonly string[];
  // Keyrings and versions seen (and validated) recently: a handful in practice, bounded anyway.
  private readonly versionKeys = new Map<string, Map<number, VersionKeys>>();
  private versionKeyCount = 0;
  private queued: QueuedWrite[] = [];
  private flushScheduled = false;
  // Scripts (per bucket in cluster mode: per node) the server confirmed it has cached. Until
  // then they go as EVAL: an EVALSHA answered NOSCRIPT and resent would let the commands issued
  // after it overtake it.
  private readonly cachedScripts = new Set<string>();

  public constructor(private readonly client: Redis | Cluster, options: RedisCacheStoreOptions = {}) {
    this.layout = new KeyLayout(options.keyPrefix ?? DEFAULTS.keyPrefix, options.buckets ?? DEFAULTS.buckets);
    const commandTimeoutMs = positive(options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs, 'commandTimeoutMs');
    const bulkTimeoutMs = positive(options.bulkTimeoutMs ?? DEFAULTS.bulkTimeoutMs, 'bulkTimeoutMs');
    this.batchSize = positive(options.batchSize ?? DEFAULTS.batchSize, 'batchSize');
    this.writeBatchSize = positive(options.writeBatchSize ?? DEFAULTS.writeBatchSize, 'writeBatchSize');
    this.cluster = client instanceof Cluster;
    this.fast = new DeadlineQueue(commandTimeoutMs, (op) => backendError(op, `no reply within ${commandTimeoutMs} ms`));
    this.bulk = new DeadlineQueue(bulkTimeoutMs, (op) => backendError(op, `no reply within ${bulkTimeoutMs} ms`));
    this.entryBases = range(this.layout.buckets).map((b) => this.layout.entryKey('', b));
  }

  /** Returns the stored value of `key` (without the store's header), or undefined on a miss. */
  public get(key: string): Promise<Buffer | undefined> {
    try {
      assertCacheKey(key);
    } catch (err) {
      return Promise.reject(err);
    }
    this.flushWrites();
    const b = this.layout.bucketOf(key);
    const entry = this.entryBases[b]! + key;
    const call = this.fast.open<Buffer | undefined>('get');
    this.client.getBuffer(entry).then(
      (raw) => call.resolve(raw === null ? undefined : stripHeader(raw)),
      (err: unknown) => {
        // Something else wrote another type at our key: garbage, dropped like any malformed value.
        if (err instanceof Error && err.message.startsWith('WRONGTYPE')) {
          this.eval(DELETE_SCRIPT, b, 1, [entry, key, this.layout.indexBase(b)]).then(
            () => call.resolve(undefined),
            (e: unknown) => call.reject(backendError('get', reason(e))),
          );
        } else {
          call.reject(backendError('get', reason(err)));
        }
      },
    );
    return call.promise;
  }

  /**
   * Stores `value` for `ttlSeconds` and indexes it under (keyring, version), atomically (one
   * script). Writes issued in the same tick travel together (see `writeBatchSize`).
   */
  public set(key: string, value: Buffer, ttlSeconds: number, keyring: string, version: number): Promise<void> {
    let keys: VersionKeys;
    try {
      assertCacheKey(key);
      assertValue(value);
      assertTtl(ttlSeconds);
      keys = this.keysOf(keyring, version);
    } catch (err) {
      return Promise.reject(err);
    }
    const bucket = this.layout.bucketOf(key);
    const call = this.fast.open<void>('set');
    this.queued.push({
      bucket,
      entry: this.entryBases[bucket]! + key,
      index: (keys.index[bucket] ??= this.layout.indexKey(bucket, keyring, version)),
      stored: Buffer.concat([keys.header, value]),
      ttlMs: ttlSeconds * 1000,
      member: key,
      call,
    });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushWrites);
    }
    return call.promise;
  }

  /** Deletes `key` and its index membership; (keyring, version), when given, is also cleaned. */
  public async delete(key: string, keyring?: string, version?: number): Promise<void> {
    assertCacheKey(key);
    if ((keyring === undefined) !== (version === undefined)) throw new ValidationError('give both keyring and version, or neither');
    const b = this.layout.bucketOf(key);
    const keys = [this.entryBases[b]! + key];
    if (keyring !== undefined && version !== undefined) {
      assertKeyring(keyring);
      assertVersion(version);
      keys.push(this.layout.indexKey(b, keyring, version));
    }
    this.flushWrites();
    await this.run(this.fast, 'delete', this.eval(DELETE_SCRIPT, b, keys.length, [...keys, key, this.layout.indexBase(b)]));
  }

  /**
   * Deletes every entry of (keyring, version): visits that version's index in each bucket
   * (concurrently) and unlinks its entries in batches. Work is proportional to the version's
   * entries plus the bucket count, whatever the size of the keyspace.
   */
  public async invalidateVersion(keyring: string, version: number): Promise<number> {
    assertKeyring(keyring);
    assertVersion(version);
    this.flushWrites();
    const perBucket = await Promise.all(range(this.layout.buckets).map((b) => this.invalidateBucket(b, keyring, version)));
    return perBucket.reduce((a, n) => a + n, 0);
  }

  /** Live (not yet expired) entries per version of `keyring`, from the indexes. */
  public async countByVersion(keyring: string): Promise<Map<number, number>> {
    assertKeyring(keyring);
    this.flushWrites();
    const [sec, micro] = await this.run(this.bulk, 'count', this.client.time());
    const now = Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
    const perBucket = await Promise.all(
      range(this.layout.buckets).map(async (b) => {
        const versions = await this.run(this.bulk, 'count', this.client.smembers(this.layout.versionsKey(b, keyring)));
        return Promise.all(
          versions.map(async (v) => {
            const n = await this.run(this.bulk, 'count', this.client.zcount(this.layout.indexKey(b, keyring, Number(v)), String(now), '+inf'));
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
      const members = await this.run(this.bulk, 'invalidate', this.client.zrange(index, '0', String(this.batchSize - 1)));
      if (members.length === 0) return deleted;
      const entries = members.map((m) => this.entryBases[b]! + m);
      const n = await this.run(
        this.bulk,
        'invalidate',
        this.eval(INVALIDATE_BATCH_SCRIPT, b, 2 + entries.length, [index, versions, ...entries, header, version, ...members]),
      );
      deleted += Number(n);
      if (members.length < this.batchSize) return deleted;
    }
  }

  /** Names and header of (keyring, version); validates both the first time they are seen. */
  private keysOf(keyring: string, version: number): VersionKeys {
    const known = this.versionKeys.get(keyring)?.get(version);
    if (known !== undefined) return known;
    assertKeyring(keyring);
    assertVersion(version);
    if (this.versionKeyCount >= 256) {
      this.versionKeys.clear();
      this.versionKeyCount = 0;
    }
    const keys: VersionKeys = { header: valueHeader(keyring, version), index: [] };
    let byVersion = this.versionKeys.get(keyring);
    if (byVersion === undefined) this.versionKeys.set(keyring, (byVersion = new Map()));
    byVersion.set(version, keys);
    this.versionKeyCount++;
    return keys;
  }

  /** Sends the queued writes now: at the end of the tick, or before any other operation (order). */
  private readonly flushWrites = (): void => {
    this.flushScheduled = false;
    const queued = this.queued;
    if (queued.length === 0) return;
    this.queued = [];
    if (!this.cluster) {
      this.sendWrites(queued);
      return;
    }
    // Cluster: one call per bucket, since a script runs on the node of one slot.
    const byBucket = new Map<number, QueuedWrite[]>();
    for (const w of queued) {
      const group = byBucket.get(w.bucket);
      if (group === undefined) byBucket.set(w.bucket, [w]);
      else group.push(w);
    }
    for (const group of byBucket.values()) this.sendWrites(group);
  };

  private sendWrites(writes: readonly QueuedWrite[]): void {
    let from = 0;
    let bytes = 0;
    for (let i = 0; i < writes.length; i++) {
      const size = writes[i]!.stored.length;
      if (i > from && (i - from >= this.writeBatchSize || bytes + size > WRITE_BATCH_BYTES)) {
        this.sendWriteCall(writes, from, i);
        from = i;
        bytes = 0;
      }
      bytes += size;
    }
    this.sendWriteCall(writes, from, writes.length);
  }

  private sendWriteCall(writes: readonly QueuedWrite[], from: number, to: number): void {
    const n = to - from;
    const args = new Array<RedisArg>(5 * n);
    for (let i = 0; i < n; i++) {
      const w = writes[from + i]!;
      args[2 * i] = w.entry;
      args[2 * i + 1] = w.index;
      args[2 * n + 3 * i] = w.stored;
      args[2 * n + 3 * i + 1] = w.ttlMs;
      args[2 * n + 3 * i + 2] = w.member;
    }
    this.eval(SET_SCRIPT, writes[from]!.bucket, 2 * n, args).then(
      () => {
        for (let i = from; i < to; i++) writes[i]!.call.resolve(undefined);
      },
      (err: unknown) => {
        const why = reason(err);
        for (let i = from; i < to; i++) writes[i]!.call.reject(backendError('set', why));
      },
    );
  }

  /** Runs a script whose keys are all in `bucket` (or, standalone, anywhere). */
  private eval(s: CacheScript, bucket: number, numKeys: number, args: readonly RedisArg[]): Promise<unknown> {
    const id = this.cluster ? `${s.sha}:${bucket}` : s.sha;
    if (!this.cachedScripts.has(id)) {
      return this.client.eval(s.source, numKeys, ...args).then((reply) => {
        this.cachedScripts.add(id);
        return reply;
      });
    }
    return this.client.evalsha(s.sha, numKeys, ...args).catch((err: unknown) => {
      // The server lost its script cache (restart, failover, SCRIPT FLUSH): send the source.
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        this.cachedScripts.delete(id);
        return this.eval(s, bucket, numKeys, args);
      }
      throw err;
    });
  }

  /** Settles with `pending`, or with a BackendError at the queue's deadline or on failure. */
  private run<T>(queue: DeadlineQueue, op: string, pending: Promise<T>): Promise<T> {
    const call = queue.open<T>(op);
    pending.then(
      (value) => call.resolve(value),
      (err: unknown) => call.reject(backendError(op, reason(err))),
    );
    return call.promise;
  }
}

// ioredis errors can carry the command and its arguments (keys, values): keep only the message.
function reason(err: unknown): string {
  return err instanceof Error ? err.message : 'unknown error';
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
