/**
 * Wiring on AWS: constructs every adapter and service from configuration. Used by the Lambda
 * functions and by the CLI's AWS mode. SDK clients are injectable (tests point them at
 * moto_server or wrap them with fault injection); by default each is created once with the
 * configured region and the SDK's standard retry with backoff and jitter.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Cluster, Redis } from 'ioredis';
import { resolveCacheEndpoint } from '../adapters/aws/elasticache-endpoint';
import { ElastiCacheIamTokenProvider } from '../adapters/aws/elasticache-iam-token';
import { KmsKeyVault } from '../adapters/aws/kms-key-vault';
import { S3CatalogStore } from '../adapters/aws/s3-catalog-store';
import { S3EscrowStore } from '../adapters/aws/s3-escrow-store';
import { S3RecordStore } from '../adapters/aws/s3-record-store';
import { createRedisClient } from '../adapters/redis/create-redis-client';
import { RedisCacheStore } from '../adapters/redis/redis-cache-store';
import { KeyringService } from '../catalog/keyring-service';
import type { RekeyConfig } from '../config/load-config';
import { EnvelopeClient } from '../envelope/envelope-client';
import { EscrowService } from '../escrow/escrow-service';
import { CatalogKeyProvider } from '../keys';
import type { AuditSink } from '../ports/audit-sink';
import { EmergencyRevocation } from '../reencrypt/emergency-revocation';
import { StoreFactsSource } from '../reencrypt/store-facts-source';
import { BackendError, ValidationError } from '../errors';
import { CloudWatchBreakerFacts } from './cloudwatch-breaker-facts';
import { CompositeAuditSink } from './composite-audit-sink';
import { EventBridgeAuditSink } from './eventbridge-audit-sink';
import { countCalls } from './kms-call-counter';
import { LazyCacheStore } from './lazy-cache-store';
import { LoggerAuditSink } from './logger-audit-sink';
import { MemoryCheckpointStore } from './memory-checkpoint-store';
import type { RekeyServices } from './rekey-services';
import { SfnSweepStarter } from './sfn-sweep-starter';
import { TargetSweeper, type TargetStore } from './target-sweeper';

/** SDK clients to use instead of default ones. */
export interface AwsClients {
  readonly kms?: KMSClient;
  readonly s3?: S3Client;
  readonly eventBridge?: EventBridgeClient;
  readonly cloudWatch?: CloudWatchClient;
  readonly sfn?: SFNClient;
  readonly elastiCache?: ElastiCacheClient;
}

/** Options of {@link buildAwsServices} beyond the clients. */
export interface BuildAwsServicesOptions {
  readonly clients?: AwsClients;
  /** Also writes audit events to this logger (the functions pass theirs). */
  readonly logger?: Pick<Logger, 'info'>;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

/**
 * Builds every adapter and service from `config`. Nothing connects until first used.
 *
 * @example
 * const services = buildAwsServices(loadConfig(), { logger });
 * await services.keyrings.tick();
 */
export function buildAwsServices(config: RekeyConfig, options: BuildAwsServicesOptions = {}): RekeyServices {
  const region = config.region === undefined ? {} : { region: config.region };
  const clients = options.clients ?? {};
  const kms = clients.kms ?? new KMSClient({ ...region });
  const s3 = clients.s3 ?? new S3Client({ ...region });
  const eventBridge = clients.eventBridge ?? new EventBridgeClient({ ...region });
  const cloudWatch = clients.cloudWatch ?? new CloudWatchClient({ ...region });
  const clock = options.clock ?? (() => new Date());
  const kmsCalls = countCalls(kms);

  const vault = new KmsKeyVault({ client: kms });
  const catalogs = new S3CatalogStore({ client: s3, bucket: config.catalogBucket, prefix: config.catalogPrefix });
  const escrowStore = new S3EscrowStore({ client: s3, bucket: config.escrowBucket, retentionDays: config.escrowRetentionDays, clock });
  const recordTargets: TargetStore[] = config.recordTargets.map((target) => ({
    target,
    store: new S3RecordStore({ client: s3, bucket: target.bucket, prefix: target.prefix }),
  }));

  const sinks: AuditSink[] = [new EventBridgeAuditSink({ client: eventBridge, eventBusName: config.eventBusName })];
  if (options.logger !== undefined) sinks.push(new LoggerAuditSink(options.logger));
  const audit = new CompositeAuditSink(sinks);

  const redis: { client?: Redis | Cluster } = {};
  const cache =
    config.cache === undefined
      ? undefined
      : new LazyCacheStore(async () => {
          const client = await openRedis(config, clients, region.region);
          redis.client = client;
          await whenReady(client);
          return new RedisCacheStore(client);
        });
  const records = recordCounts(recordTargets);
  const facts = new StoreFactsSource({
    records,
    ...(cache === undefined ? {} : { cache }),
    // Destroying needs both: the record exists in the Object Lock bucket, and a restore drill
    // proved it (the escrow function records that in the catalog).
    escrowVerified: async (keyring, version) => {
      const stored = await catalogs.get(keyring);
      const entry = stored?.catalog.versions.find((v) => v.version === version);
      if (entry?.escrowVerifiedAt === undefined) return false;
      return (await escrowStore.get(keyring, version)) !== undefined;
    },
  });
  const keyrings = new KeyringService({
    store: catalogs,
    vault,
    audit,
    clock,
    facts,
    wrappingKeyIdFor: (keyring) => config.keyringKeys[keyring],
  });
  const provider = new CatalogKeyProvider({ store: catalogs, vault });
  const envelopes = new EnvelopeClient(provider);
  const escrow = new EscrowService({
    store: escrowStore,
    catalogs,
    vault,
    escrowVault: vault,
    escrowWrappingKeyId: config.escrowKeyArn,
    ...(config.escrowRsaPublicKey === undefined ? {} : { rsaPublicKeyPem: config.escrowRsaPublicKey }),
    clock,
  });
  const starter =
    config.sweepStateMachineArn === undefined
      ? undefined
      : new SfnSweepStarter({ client: clients.sfn ?? new SFNClient({ ...region }), stateMachineArn: config.sweepStateMachineArn });
  const revocation = new EmergencyRevocation({
    keyrings,
    provider,
    cache: cache ?? { invalidateVersion: async () => 0 },
    sweeper: new TargetSweeper({ targets: recordTargets, envelopes, versions: provider, ...(starter === undefined ? {} : { starter }), inlineLimit: config.inlineSweepLimit }),
    checkpoints: new MemoryCheckpointStore(),
    records,
    audit,
    clock,
  });
  return {
    config,
    clock,
    catalogs,
    keyrings,
    audit,
    provider,
    envelopes,
    recordTargets,
    escrow,
    escrowStore,
    ...(cache === undefined ? {} : { cache }),
    breakerFacts: new CloudWatchBreakerFacts({ client: cloudWatch, now: clock }),
    revocation,
    kmsCalls,
    close: async () => {
      const client = redis.client;
      redis.client = undefined;
      if (client !== undefined) await client.quit().catch(() => client.disconnect());
    },
  };
}

/** Record counts of a keyring summed over its targets (a keyring may span buckets). */
function recordCounts(targets: readonly TargetStore[]): { countByVersion(keyring: string): Promise<Map<number, number>> } {
  return {
    async countByVersion(keyring: string): Promise<Map<number, number>> {
      const total = new Map<number, number>();
      for (const { target, store } of targets) {
        if (target.keyring !== keyring) continue;
        for (const [version, n] of await store.countByVersion(keyring)) total.set(version, (total.get(version) ?? 0) + n);
      }
      return total;
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

/** Connects to the configured endpoint, or resolves the cache name through ElastiCache first. */
async function openRedis(config: RekeyConfig, clients: AwsClients, region: string | undefined): Promise<Redis | Cluster> {
  const cache = config.cache;
  if (cache === undefined) throw new ValidationError('no cache is configured');
  if (cache.endpoint !== undefined) return createRedisClient({ url: cache.endpoint });
  const name = cache.name as string;
  const elastiCache = clients.elastiCache ?? new ElastiCacheClient(region === undefined ? {} : { region });
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
