/** Redis / Valkey / ElastiCache adapters of the cache. */
export { RedisCacheStore } from './redis-cache-store';
export type { RedisCacheStoreOptions } from './redis-cache-store';
export { createRedisClient } from './create-redis-client';
export type { CreateRedisClientOptions, RedisEndpoint, RedisTokenSource } from './create-redis-client';
export { KeyLayout } from './key-layout';
