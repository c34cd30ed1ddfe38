/**
 * A deployed-like rekey on moto_server (+ redis-server) for the function tests: fresh buckets,
 * KMS keys and keyring names per harness, configuration loaded through the real config loader,
 * services from buildAwsServices with moto clients, and a controllable clock.
 */
import { randomBytes } from 'node:crypto';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import type { KeyringPolicy } from '../../../../shared/catalog/model';
import { loadConfig, type RekeyConfig } from '../../../../shared/config/load-config';
import { ENV } from '../../../../shared/config/env-names';
import { buildAwsServices, type AwsClients } from '../../../../shared/compose/aws/build-aws-services';
import type { HandlerDeps } from '../../../../shared/lambda/create-handler';
import { createLogger } from '../../../../shared/lambda/create-logger';
import type { MetricDimensions, MetricsPublisher } from '../../../../shared/ports/metrics-publisher';
import type { RekeyServices } from '../../../../shared/compose/aws/rekey-services';

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/** The moto endpoint from jest's globalSetup. */
export function motoUrl(): string {
  const url = process.env.REKEY_TEST_MOTO_URL;
  if (url === undefined) throw new Error('REKEY_TEST_MOTO_URL is not set: run through jest');
  return url;
}

/** Fresh moto clients (no SDK retries unless asked, so faults surface at once). */
export function motoClients(maxAttempts = 1): Required<Omit<AwsClients, 'elastiCache'>> {
  const base = { endpoint: motoUrl(), region: 'us-east-1', credentials, maxAttempts };
  return {
    kms: new KMSClient(base),
    s3: new S3Client({ ...base, forcePathStyle: true }),
    eventBridge: new EventBridgeClient(base),
    cloudWatch: new CloudWatchClient(base),
    sfn: new SFNClient(base),
    sqs: new SQSClient(base),
  };
}

/** A unique lowercase name. */
export function uniqueName(stem: string): string {
  return `${stem}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** A metrics publisher that keeps every data point, for assertions. */
export class RecordingMetrics implements MetricsPublisher {
  public readonly points: { name: string; value: number; dimensions: MetricDimensions }[] = [];
  public put(name: string, value: number, dimensions: MetricDimensions = {}): void {
    this.points.push({ name, value, dimensions });
  }
  /** Values of `name`, optionally filtered by dimensions. */
  public values(name: string, where: Partial<Record<string, string | number>> = {}): number[] {
    return this.points
      .filter((p) => p.name === name && Object.entries(where).every(([k, v]) => p.dimensions[k] === v))
      .map((p) => p.value);
  }
}

/** A minimal Lambda context. */
export function lambdaContext(name = 'rekey-test'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    memoryLimitInMB: '256',
    awsRequestId: uniqueName('req'),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Options of {@link createHarness}. */
export interface HarnessOptions {
  /** Use redis-server from REKEY_TEST_REDIS_URL as the cache. */
  readonly cache?: boolean;
  /** Policy of the keyring created up front (none when `createKeyring` is false). */
  readonly policy?: Partial<KeyringPolicy>;
  readonly createKeyring?: boolean;
  /** Replace some moto clients (fault injection, aws-sdk-client-mock). */
  readonly clients?: Partial<AwsClients>;
  readonly extraEnv?: Record<string, string>;
}

/** One isolated rekey deployment on moto. */
export interface Harness {
  readonly keyring: string;
  readonly keyArn: string;
  readonly escrowKeyArn: string;
  readonly buckets: { readonly catalog: string; readonly escrow: string; readonly data: string };
  readonly dataPrefix: string;
  readonly env: Record<string, string>;
  readonly config: RekeyConfig;
  readonly clients: Required<Omit<AwsClients, 'elastiCache'>>;
  readonly services: RekeyServices;
  readonly metrics: RecordingMetrics;
  readonly deps: HandlerDeps<RekeyServices>;
  /** Current time of the services' clock. */
  now(): Date;
  /** Moves the clock forward. */
  advance(seconds: number): void;
  /** Every object version in the harness's buckets, plus cache counts: equal snapshots mean nothing changed. */
  snapshot(): Promise<string>;
  close(): Promise<void>;
}

/** Builds a harness; the keyring is created with version 1 active unless told otherwise. */
export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const clients = motoClients();
  const s3 = clients.s3;
  const keyring = uniqueName('kr');
  const bucket = async (kind: 'versioned' | 'lock' | 'plain'): Promise<string> => {
    const name = uniqueName('rk');
    await s3.send(new CreateBucketCommand({ Bucket: name, ...(kind === 'lock' ? { ObjectLockEnabledForBucket: true } : {}) }));
    if (kind === 'versioned') await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
    return name;
  };
  const buckets = { catalog: await bucket('versioned'), escrow: await bucket('lock'), data: await bucket('versioned') };
  const keyArn = (await clients.kms.send(new CreateKeyCommand({ Description: uniqueName('rekey') }))).KeyMetadata?.Arn as string;
  const escrowKeyArn = (await clients.kms.send(new CreateKeyCommand({ Description: uniqueName('rekey-escrow') }))).KeyMetadata?.Arn as string;
  const dataPrefix = 'records/';
  const env: Record<string, string> = {
    [ENV.region]: 'us-east-1',
    [ENV.catalogBucket]: buckets.catalog,
    [ENV.keyringKeys]: JSON.stringify({ [keyring]: keyArn }),
    [ENV.escrowBucket]: buckets.escrow,
    [ENV.escrowKeyArn]: escrowKeyArn,
    [ENV.escrowRetentionDays]: '1',
    [ENV.recordTargets]: JSON.stringify([{ keyring, bucket: buckets.data, prefix: dataPrefix }]),
    [ENV.eventBusName]: 'default',
    [ENV.breakerThreshold]: '0.1',
    ...(options.cache === true ? { [ENV.cacheEndpoint]: process.env.REKEY_TEST_REDIS_URL as string } : {}),
    ...options.extraEnv,
  };
  const config = loadConfig(env);
  let now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const clock = (): Date => now;
  const merged = { ...clients, ...options.clients };
  const logger = createLogger({ serviceName: 'rekey-test', logLevel: 'SILENT' });
  const services = buildAwsServices(config, { clients: merged, clock, logger });
  const metrics = new RecordingMetrics();
  if (options.createKeyring !== false) {
    await services.keyrings.createKeyring(keyring, options.policy, { actor: 'test:setup', now });
  }
  const snapshot = async (): Promise<string> => {
    const out: string[] = [];
    for (const b of Object.values(buckets)) {
      const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: b }));
      for (const v of listed.Versions ?? []) out.push(`${b}/${v.Key}@${v.VersionId}:${v.ETag}`);
      for (const d of listed.DeleteMarkers ?? []) out.push(`${b}/${d.Key}@${d.VersionId}:deleted`);
    }
    if (services.cache !== undefined) out.push(JSON.stringify([...(await services.cache.countByVersion(keyring))]));
    return out.sort().join('\n');
  };
  return {
    keyring,
    keyArn,
    escrowKeyArn,
    buckets,
    dataPrefix,
    env,
    config,
    clients: merged as Required<Omit<AwsClients, 'elastiCache'>>,
    services,
    metrics,
    deps: { services: () => services, logger, metrics },
    now: () => now,
    advance: (seconds) => {
      now = new Date(now.getTime() + seconds * 1000);
    },
    snapshot,
    close: () => services.close(),
  };
}

/** Stores `count` records under the keyring's active version; returns their object keys. */
export async function putRecords(h: Harness, count: number, stem = 'rec'): Promise<string[]> {
  const store = h.services.recordTargets[0]!.store;
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${stem}-${i}`;
    const envelope = await h.services.envelopes.encrypt(h.keyring, Buffer.from(`payload ${i}`));
    const version = h.services.envelopes.inspect(envelope).version;
    await store.put({ id, keyring: h.keyring, version, envelope }, null);
    keys.push(`${h.dataPrefix}${id}`);
  }
  return keys;
}

/** Versions of the keyring with their states, e.g. `[[1, 'active']]`. */
export async function statesOf(h: Harness): Promise<Array<[number, string]>> {
  const catalog = await h.services.keyrings.get(h.keyring);
  return catalog.versions.map((v) => [v.version, v.state]);
}
