/**
 * Opens the Redis connection of the configured cache: to its endpoint, or to the ElastiCache
 * cache found by name (with IAM authentication when an IAM user is configured). Loaded by
 * ./aws-cache on the first use of the cache, with ioredis and the ElastiCache client.
 */
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import type { Cluster, Redis } from 'ioredis';
import { resolveCacheEndpoint } from '../../adapters/aws/elasticache-endpoint';
import { ElastiCacheIamTokenProvider } from '../../adapters/aws/elasticache-iam-token';
import { createRedisClient } from '../../adapters/redis/create-redis-client';
import type { RekeyConfig } from '../../config/load-config';
import { ValidationError } from '../../errors';
import type { AwsClients } from './aws-core';
import { FUNCTION_SDK_TIMEOUTS, newSdkClient } from '../../adapters/aws/sdk-client-options';

export { RedisCacheStore } from '../../adapters/redis/redis-cache-store';

/**
 * Connects to the configured endpoint, or resolves the cache name through ElastiCache first.
 *
 * @example
 * const client = await openRedis(config, { elastiCache });
 */
export async function openRedis(config: RekeyConfig, clients: AwsClients): Promise<Redis | Cluster> {
  const cache = config.cache;
  if (cache === undefined) throw new ValidationError('no cache is configured');
  if (cache.endpoint !== undefined) return createRedisClient({ url: cache.endpoint });
  const name = cache.name as string;
  const region = config.region;
  const elastiCache = clients.elastiCache ?? newSdkClient(ElastiCacheClient, region === undefined ? {} : { region }, FUNCTION_SDK_TIMEOUTS);
  const endpoint = await resolveCacheEndpoint({ name, client: elastiCache });
  let iam;
  if (cache.iamUser !== undefined) {
    const signingRegion = region ?? (await elastiCache.config.region());
    const tokens = new ElastiCacheIamTokenProvider({
      cacheName: name,
      userId: cache.iamUser,
      region: signingRegion,
      credentials: elastiCache.config.credentials,
      serverless: endpoint.serverless,
    });
    iam = { user: cache.iamUser, tokens };
  }
  return createRedisClient({ endpoint, ...(iam === undefined ? {} : { iam }) });
}
