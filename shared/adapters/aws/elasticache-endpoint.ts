/**
 * Finds an ElastiCache cache by name: a replication group (node-based, cluster mode enabled
 * or disabled) or a serverless cache, and returns where and how to connect to it.
 */
import {
  DescribeReplicationGroupsCommand,
  DescribeServerlessCachesCommand,
  type ElastiCacheClient,
  type ReplicationGroup,
  type ServerlessCache,
} from '@aws-sdk/client-elasticache';
import { BackendError, NotFoundError, ValidationError } from '../../errors';
import { mapAwsError } from './map-aws-error';

/** Where and how to connect to a cache. */
export interface CacheEndpoint {
  readonly host: string;
  readonly port: number;
  /** In-transit encryption (always true for serverless caches). */
  readonly tls: boolean;
  /** Connect with a cluster client (cluster mode enabled, and every serverless cache). */
  readonly clusterMode: boolean;
  /** A serverless cache: IAM tokens then carry `ResourceType=ServerlessCache`. */
  readonly serverless: boolean;
}

/** Arguments of {@link resolveCacheEndpoint}. */
export interface ResolveCacheEndpointInput {
  /** Replication group id or serverless cache name. */
  readonly name: string;
  readonly client: ElastiCacheClient;
}

// ElastiCache names: 1-40 characters, letters, digits and hyphens, starting with a letter.
const NAME = /^[A-Za-z][A-Za-z0-9-]{0,39}$/;

/**
 * Resolves a cache name to its endpoint: a replication group's configuration endpoint (cluster
 * mode) or primary endpoint (otherwise), else a serverless cache's endpoint.
 * Throws NotFoundError when neither exists, BackendError (retryable) while it is not available.
 *
 * @example
 * const ep = await resolveCacheEndpoint({ name: 'rekey-cache', client: new ElastiCacheClient({}) });
 * const redis = await createRedisClient({ endpoint: ep });
 */
export async function resolveCacheEndpoint(input: ResolveCacheEndpointInput): Promise<CacheEndpoint> {
  const { name, client } = input;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ValidationError('cache name must be 1-40 letters, digits or hyphens, starting with a letter');
  }
  const group = await call(
    async () => (await client.send(new DescribeReplicationGroupsCommand({ ReplicationGroupId: name }))).ReplicationGroups?.[0],
    'ReplicationGroupNotFoundFault',
    'elasticache:DescribeReplicationGroups',
  );
  if (group !== undefined) return fromReplicationGroup(name, group);
  const serverless = await call(
    async () => (await client.send(new DescribeServerlessCachesCommand({ ServerlessCacheName: name }))).ServerlessCaches?.[0],
    'ServerlessCacheNotFoundFault',
    'elasticache:DescribeServerlessCaches',
  );
  if (serverless !== undefined) return fromServerless(name, serverless);
  throw new NotFoundError(`no ElastiCache replication group or serverless cache named '${name}'`);
}

function fromReplicationGroup(name: string, g: ReplicationGroup): CacheEndpoint {
  const clusterMode = g.ClusterEnabled === true || g.ClusterMode === 'enabled';
  const ep = clusterMode ? g.ConfigurationEndpoint : g.NodeGroups?.[0]?.PrimaryEndpoint;
  if (ep?.Address === undefined || ep.Port === undefined) {
    throw new BackendError(`replication group '${name}' has no endpoint yet (status ${g.Status ?? 'unknown'})`);
  }
  return { host: ep.Address, port: ep.Port, tls: g.TransitEncryptionEnabled === true, clusterMode, serverless: false };
}

function fromServerless(name: string, c: ServerlessCache): CacheEndpoint {
  const ep = c.Endpoint;
  if (ep?.Address === undefined || ep.Port === undefined) {
    throw new BackendError(`serverless cache '${name}' has no endpoint yet (status ${c.Status ?? 'unknown'})`);
  }
  return { host: ep.Address, port: ep.Port, tls: true, clusterMode: true, serverless: true };
}

async function call<T>(send: () => Promise<T | undefined>, notFound: string, operation: string): Promise<T | undefined> {
  try {
    return await send();
  } catch (err) {
    if ((err as { name?: unknown } | null)?.name === notFound) return undefined;
    throw mapAwsError(err, operation);
  }
}
