/**
 * The encrypted cache on AWS: a CacheStore over ioredis that connects on first use, to the
 * configured endpoint or to the ElastiCache cache found by name (with IAM authentication when
 * an IAM user is configured). Only the functions that run in the cache's VPC build it, so only
 * their bundles carry ioredis and the ElastiCache client; and those modules load on the first
 * use of the cache, so a deployment without one never loads them.
 */
import type { Cluster, Redis } from 'ioredis';
import type { RekeyConfig } from '../../config/load-config';
import { BackendError } from '../../errors';
import type { CacheStore } from '../../ports/cache-store';
import { LazyCacheStore } from '../../adapters/redis/lazy-cache-store';
import type { AwsClients } from './aws-core';

/** The cache of a service set and the means to let go of its connection. */
export interface AwsCache {
  /** Undefined when no cache is configured; connects on first use. */
  readonly cache?: CacheStore;
  /** Closes the Redis connection, if one was opened. */
  close(): Promise<void>;
}

/**
 * Builds the configured cache (or none). Nothing connects until the cache is first used.
 *
 * @example
 * const { cache, close } = buildAwsCache(config, { elastiCache });
 * await cache?.countByVersion('payments');
 * await close();
 */
export function buildAwsCache(config: RekeyConfig, clients: AwsClients = {}): AwsCache {
  const redis: { client?: Redis | Cluster } = {};
  const cache =
    config.cache === undefined
      ? undefined
      : new LazyCacheStore(async () => {
          // ioredis and the ElastiCache client load here, on the first use of the cache.
          const { openRedis, RedisCacheStore } = await import('./open-redis');
          const client = await openRedis(config, clients);
          redis.client = client;
          await whenReady(client);
          return new RedisCacheStore(client);
        });
  return {
    ...(cache === undefined ? {} : { cache }),
    close: async () => {
      const client = redis.client;
      redis.client = undefined;
      if (client !== undefined) await client.quit().catch(() => client.disconnect());
    },
  };
}

// The client fails commands fast while disconnected (the cache's degrade-don't-wait contract);
// a function that is about to count or purge entries must wait for the connection instead.
const READY_TIMEOUT_MS = 5000;

async function whenReady(client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new BackendError(`the cache did not become ready within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
}
