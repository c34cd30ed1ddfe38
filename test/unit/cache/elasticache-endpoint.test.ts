import { DescribeReplicationGroupsCommand, DescribeServerlessCachesCommand, ElastiCacheClient, ReplicationGroupNotFoundFault, ServerlessCacheNotFoundFault } from '@aws-sdk/client-elasticache';
import { mockClient } from 'aws-sdk-client-mock';
import { resolveCacheEndpoint } from '../../../shared/adapters/aws/elasticache-endpoint';
import { AccessDeniedError, BackendError, NotFoundError, ThrottledError, ValidationError } from '../../../shared/errors';

const ec = mockClient(ElastiCacheClient);
const client = new ElastiCacheClient({ region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
const rgNotFound = () => new ReplicationGroupNotFoundFault({ message: 'not found', $metadata: {} });
const slsNotFound = () => new ServerlessCacheNotFoundFault({ message: 'not found', $metadata: {} });

beforeEach(() => ec.reset());

describe('resolveCacheEndpoint', () => {
  it('returns the configuration endpoint of a cluster-mode replication group', async () => {
    // Prepare
    ec.on(DescribeReplicationGroupsCommand, { ReplicationGroupId: 'rekey' }).resolves({
      ReplicationGroups: [{ ReplicationGroupId: 'rekey', ClusterEnabled: true, TransitEncryptionEnabled: true, ConfigurationEndpoint: { Address: 'clustercfg.rekey.x.cache.amazonaws.com', Port: 6379 } }],
    });
    // Act
    const ep = await resolveCacheEndpoint({ name: 'rekey', client });
    // Assess
    expect(ep).toEqual({ host: 'clustercfg.rekey.x.cache.amazonaws.com', port: 6379, tls: true, clusterMode: true, serverless: false });
    expect(ec.commandCalls(DescribeServerlessCachesCommand)).toHaveLength(0);
  });

  it('returns the primary endpoint of a replication group without cluster mode', async () => {
    // Prepare
    ec.on(DescribeReplicationGroupsCommand).resolves({
      ReplicationGroups: [{ ClusterEnabled: false, TransitEncryptionEnabled: true, NodeGroups: [{ PrimaryEndpoint: { Address: 'master.rekey.x.cache.amazonaws.com', Port: 6380 } }] }],
    });
    // Act
    const ep = await resolveCacheEndpoint({ name: 'rekey', client });
    // Assess
    expect(ep).toEqual({ host: 'master.rekey.x.cache.amazonaws.com', port: 6380, tls: true, clusterMode: false, serverless: false });
  });

  it('falls back to a serverless cache of that name', async () => {
    // Prepare
    ec.on(DescribeReplicationGroupsCommand).rejects(rgNotFound());
    ec.on(DescribeServerlessCachesCommand, { ServerlessCacheName: 'rekey' }).resolves({
      ServerlessCaches: [{ ServerlessCacheName: 'rekey', Status: 'available', Endpoint: { Address: 'rekey-abc.serverless.use1.cache.amazonaws.com', Port: 6379 } }],
    });
    // Act
    const ep = await resolveCacheEndpoint({ name: 'rekey', client });
    // Assess
    expect(ep).toEqual({ host: 'rekey-abc.serverless.use1.cache.amazonaws.com', port: 6379, tls: true, clusterMode: true, serverless: true });
  });

  it('throws NotFoundError when neither exists', async () => {
    // Prepare
    ec.on(DescribeReplicationGroupsCommand).rejects(rgNotFound());
    ec.on(DescribeServerlessCachesCommand).rejects(slsNotFound());
    // Act
    const attempt = resolveCacheEndpoint({ name: 'ghost', client });
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(NotFoundError);
  });

  it('throws a retryable BackendError while the cache has no endpoint yet', async () => {
    // Prepare
    ec.on(DescribeReplicationGroupsCommand).rejects(rgNotFound());
    ec.on(DescribeServerlessCachesCommand).resolves({ ServerlessCaches: [{ Status: 'creating' }] });
    // Act
    const attempt = resolveCacheEndpoint({ name: 'rekey', client });
    // Assess
    await expect(attempt).rejects.toMatchObject({ code: 'BACKEND', retryable: true });
  });

  it.each([
    ['AccessDeniedException', AccessDeniedError],
    ['ThrottlingException', ThrottledError],
    ['InternalFailure', BackendError],
  ])('maps %s to its typed error', async (name, type) => {
    // Prepare
    ec.on(DescribeReplicationGroupsCommand).rejects(Object.assign(new Error('refused'), { name }));
    // Act
    const attempt = resolveCacheEndpoint({ name: 'rekey', client });
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(type);
  });

  it('refuses an invalid name without calling AWS', async () => {
    // Prepare
    // Act
    const attempt = resolveCacheEndpoint({ name: 'no spaces allowed', client });
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    expect(ec.calls()).toHaveLength(0);
  });
});
