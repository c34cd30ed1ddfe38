/**
 * A CacheStore that connects on first use. Building the services stays synchronous and cheap
 * (a function that never touches the cache never opens a connection), and a failed connection
 * attempt is retried on the next call instead of being remembered.
 */
import type { CacheStore } from '../../ports/cache-store';

/**
 * Delegates every call to the store returned by `connect`, called once on first use.
 *
 * @example
 * const cache = new LazyCacheStore(async () => new RedisCacheStore(await createRedisClient({ url })));
 * await cache.countByVersion('payments');
 */
export class LazyCacheStore implements CacheStore {
  private pending: Promise<CacheStore> | undefined;
  private opened: CacheStore | undefined;

  public constructor(private readonly connect: () => Promise<CacheStore>) {}

  /** True once a connection was made. */
  public get connected(): boolean {
    return this.opened !== undefined;
  }

  public async get(key: string): Promise<Buffer | undefined> {
    return (await this.store()).get(key);
  }

  public async set(key: string, value: Buffer, ttlSeconds: number, keyring: string, version: number): Promise<void> {
    return (await this.store()).set(key, value, ttlSeconds, keyring, version);
  }

  public async delete(key: string, keyring?: string, version?: number): Promise<void> {
    return (await this.store()).delete(key, keyring, version);
  }

  public async invalidateVersion(keyring: string, version: number): Promise<number> {
    return (await this.store()).invalidateVersion(keyring, version);
  }

  public async countByVersion(keyring: string): Promise<Map<number, number>> {
    return (await this.store()).countByVersion(keyring);
  }

  private async store(): Promise<CacheStore> {
    if (this.opened !== undefined) return this.opened;
    this.pending ??= this.connect().then(
      (store) => {
        this.opened = store;
        return store;
      },
      (err: unknown) => {
        this.pending = undefined;
        throw err;
      },
    );
    return this.pending;
  }
}
