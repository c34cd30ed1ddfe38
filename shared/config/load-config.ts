/**
 * The one module of rekey that reads `process.env`. Every variable is validated with zod (zod/mini), and a
 * bad or missing one fails with a ValidationError that names it (never echoing its value, which
 * may be long or sensitive), so a misconfigured function fails at cold start, not mid-rotation.
 */
import { createPublicKey } from 'node:crypto';
import * as z from '../vocabulary/zod';
import { jsonText } from '../vocabulary/json-text';
import { ValidationError } from '../errors';
import { bucketName, keyPrefix, keyringName, kmsKeyArn, recordLayout, stateMachineArn } from '../vocabulary/names';
import { MAX_CATALOG_TTL_MS } from '../vocabulary/catalog-cache';
import { ENV } from './env-names';
import { DEFAULT_TABLE_SEGMENTS, dynamoTableName, tableSegments } from '../vocabulary/event-schemas';

/** One bucket/prefix of application records that belongs to a keyring. */
export interface RecordTarget {
  readonly keyring: string;
  readonly bucket: string;
  readonly prefix: string;
  /** How new record objects are written (S3RecordStore `layout`); absent: 'body'. */
  readonly layout?: 'body' | 'metadata';
}

/** One DynamoDB table of application records (DynamoDbRecordStore layout) that belongs to a keyring. */
export interface TableTarget {
  readonly keyring: string;
  readonly table: string;
  /** Parallel-scan segments the sweep fans out over (1..64). */
  readonly segments: number;
}

/** The cache endpoint: an explicit URL, or a name resolved through ElastiCache. */
export interface CacheConfig {
  /** ElastiCache replication group id or serverless cache name. */
  readonly name?: string;
  /** Explicit `redis://` or `rediss://` endpoint; wins over `name`. */
  readonly endpoint?: string;
  /** ElastiCache user id for IAM authentication. */
  readonly iamUser?: string;
}

/** Configuration of rekey's Lambda functions and of the CLI's AWS mode. */
export interface RekeyConfig {
  readonly region?: string;
  readonly catalogBucket: string;
  readonly catalogPrefix: string;
  /** Keyring name → ARN of the KMS key wrapping its version keys. */
  readonly keyringKeys: Readonly<Record<string, string>>;
  readonly escrowBucket: string;
  readonly escrowKeyArn: string;
  /** PEM (SPKI) RSA public key for an offline escrow copy. */
  readonly escrowRsaPublicKey?: string;
  /** Days each escrow record stays locked. */
  readonly escrowRetentionDays: number;
  readonly recordTargets: readonly RecordTarget[];
  /** DynamoDB record tables (REKEY_TABLE_TARGETS); absent: none. */
  readonly tableTargets?: readonly TableTarget[];
  /** Where lost census marks end up (REKEY_CENSUS_LOSS_QUEUES); absent: unknown, so no census is used. */
  readonly censusLossQueueUrls?: readonly string[];
  /** Absent when neither a cache name nor an endpoint is configured. */
  readonly cache?: CacheConfig;
  readonly eventBusName: string;
  /** Decrypt-failure ratio (0..1] above which the circuit breaker trips. */
  readonly breakerThreshold: number;
  readonly sweepStateMachineArn?: string;
  /** A revocation sweeps inline when the keyring holds at most this many records. */
  readonly inlineSweepLimit: number;
  /**
   * Catalog cache lifetime in ms, for the key provider and the revocation's settle window alike.
   * Absent: both use DEFAULT_CATALOG_TTL_MS (shared/vocabulary/catalog-cache).
   */
  readonly catalogTtlMs?: number;
}

/** Local-mode configuration (the CLI on embedded backends). */
export interface LocalConfig {
  readonly home: string;
  readonly redisUrl?: string;
  /** Keep records in this PostgreSQL instead of `<home>/records.db` (REKEY_POSTGRES_URL). */
  readonly postgresUrl?: string;
  /** As {@link RekeyConfig.catalogTtlMs}. */
  readonly catalogTtlMs?: number;
}

/** Defaults applied when an optional variable is absent. */
export const CONFIG_DEFAULTS = {
  catalogPrefix: 'catalog/',
  breakerThreshold: 0.05,
  inlineSweepLimit: 1000,
  escrowRetentionDays: 365,
  home: './.rekey',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

// Every schema is a @__PURE__ z.lazy (see ../vocabulary/names.ts): built by the first loadConfig, not
// when a function's bundle loads.
const keyringKeysSchema = /* @__PURE__ */ z.lazy(() =>
  jsonText(
    z
      .record(keyringName, kmsKeyArn, 'must be a JSON object mapping keyring names to KMS key ARNs')
      .check(z.refine((o: Record<string, string>) => Object.keys(o).length > 0, 'must name at least one keyring')),
  ),
);

const recordTargetsSchema = /* @__PURE__ */ z.lazy(() =>
  jsonText(
    z.array(z.strictObject({ keyring: keyringName, bucket: bucketName, prefix: keyPrefix, layout: z.optional(recordLayout) }), 'must be a JSON array of { keyring, bucket, prefix, layout? }').check(z.maxLength(100)),
  ),
);

const tableTargetsSchema = /* @__PURE__ */ z.lazy(() =>
  jsonText(
    z.array(z.strictObject({ keyring: keyringName, table: dynamoTableName, segments: z.optional(tableSegments) }), 'must be a JSON array of { keyring, table, segments }').check(z.maxLength(100)),
  ),
);

const queueUrlsSchema = /* @__PURE__ */ z.lazy(() =>
  jsonText(
    z.array(z.string().check(z.regex(/^https?:\/\/[A-Za-z0-9.:-]{1,255}\/\d{12}\/[A-Za-z0-9_-]{1,80}$/, 'must be an SQS queue URL')), 'must be a JSON array of SQS queue URLs').check(z.maxLength(10)),
  ),
);

const rsaPublicKeySchema = /* @__PURE__ */ z.lazy(() =>
  z.string().check(
    z.refine((pem: string) => {
      try {
        return createPublicKey(pem).asymmetricKeyType === 'rsa';
      } catch {
        return false;
      }
    }, 'must be a PEM (SPKI) RSA public key'),
  ),
);

const cacheNameSchema = /* @__PURE__ */ z.lazy(() =>
  z.string().check(z.regex(/^[A-Za-z][A-Za-z0-9-]{0,39}$/, 'must be an ElastiCache replication group id or serverless cache name')),
);
const cacheIamUserSchema = /* @__PURE__ */ z.lazy(() => z.string().check(z.regex(/^[A-Za-z][A-Za-z0-9-]{0,39}$/, 'must be an ElastiCache user id')));
const cacheEndpointSchema = /* @__PURE__ */ z.lazy(() =>
  z.string().check(
    z.refine((s: string) => {
      try {
        const u = new URL(s);
        return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '' && u.username === '' && u.password === '';
      } catch {
        return false;
      }
    }, 'must be redis://host:port or rediss://host:port without credentials'),
  ),
);
// May carry credentials (a developer's own database); never logged or echoed.
const postgresUrlSchema = /* @__PURE__ */ z.lazy(() =>
  z.string().check(
    z.refine((s: string) => {
      try {
        const u = new URL(s);
        return (u.protocol === 'postgres:' || u.protocol === 'postgresql:') && u.hostname !== '' && !/\s/.test(s);
      } catch {
        return false;
      }
    }, 'must be a postgres:// or postgresql:// URL with a host'),
  ),
);
// Local mode may carry a password in the URL (a developer's own Redis); it is never logged.
const redisUrlSchema = /* @__PURE__ */ z.lazy(() =>
  z.string().check(
    z.refine((s: string) => {
      try {
        const u = new URL(s);
        return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '';
      } catch {
        return false;
      }
    }, 'must be redis://host:port or rediss://host:port'),
  ),
);
const eventBusSchema = /* @__PURE__ */ z.lazy(() =>
  z
    .string()
    .check(
      z.maxLength(1600),
      z.regex(/^([A-Za-z0-9._\-/]{1,256}|arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[A-Za-z0-9._\-/]{1,256})$/, 'must be an event bus name or ARN'),
    ),
);
const thresholdSchema = /* @__PURE__ */ z.lazy(() =>
  z.pipe(
    z.pipe(z.string().check(z.regex(/^\d+(\.\d+)?$/, 'must be a decimal number in (0, 1]')), z.transform(Number)),
    z.number().check(z.gt(0, 'must be greater than 0'), z.lte(1, 'must be at most 1')),
  ),
);
const positiveIntSchema = /* @__PURE__ */ z.lazy(() => z.pipe(z.string().check(z.regex(/^[1-9]\d{0,8}$/, 'must be a positive integer')), z.transform(Number)));
const catalogTtlSchema = /* @__PURE__ */ z.lazy(() =>
  z.pipe(positiveIntSchema, z.number().check(z.lte(MAX_CATALOG_TTL_MS, `must be at most ${MAX_CATALOG_TTL_MS} (one day)`))),
);
const regionSchema = /* @__PURE__ */ z.lazy(() => z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'must be an AWS region name')));

/** Collects per-variable failures so that one error names every bad variable at once. */
class EnvReader {
  private readonly problems: string[] = [];

  public constructor(private readonly env: Env) {}

  public required<T>(name: string, schema: z.core.$ZodType<T>): T {
    const raw = this.env[name];
    if (raw === undefined || raw.trim() === '') {
      this.problems.push(`${name} is required but not set`);
      return undefined as T;
    }
    return this.parse(name, schema, raw);
  }

  public optional<T>(name: string, schema: z.core.$ZodType<T>): T | undefined {
    const raw = this.env[name];
    if (raw === undefined || raw.trim() === '') return undefined;
    return this.parse(name, schema, raw);
  }

  public problem(message: string): void {
    this.problems.push(message);
  }

  public throwIfProblems(): void {
    if (this.problems.length > 0) {
      throw new ValidationError(`invalid configuration: ${this.problems.join('; ')}`);
    }
  }

  private parse<T>(name: string, schema: z.core.$ZodType<T>, raw: string): T {
    const result = z.safeParse(schema, raw.trim());
    if (result.success) return result.data;
    const seen = new Set<string>();
    for (const issue of result.error.issues) {
      const where = issue.path.length > 0 ? ` (at ${issue.path.map(String).join('.').slice(0, 80)})` : '';
      seen.add(`${issue.message}${where}`);
    }
    this.problems.push(`${name} ${[...seen].slice(0, 3).join(', ')}`);
    return undefined as T;
  }
}

/**
 * Reads and validates the AWS-mode configuration.
 *
 * @param env - The environment to read; defaults to `process.env` (tests pass their own).
 * @throws ValidationError naming every missing or malformed variable.
 * @example
 * const config = loadConfig();
 * config.keyringKeys['payments']; // 'arn:aws:kms:...:key/...'
 */
export function loadConfig(env: Env = process.env): RekeyConfig {
  const r = new EnvReader(env);
  const region = r.optional(ENV.region, regionSchema);
  const catalogBucket = r.required(ENV.catalogBucket, bucketName);
  const catalogPrefix = r.optional(ENV.catalogPrefix, keyPrefix) ?? CONFIG_DEFAULTS.catalogPrefix;
  const keyringKeys = r.required(ENV.keyringKeys, keyringKeysSchema);
  const escrowBucket = r.required(ENV.escrowBucket, bucketName);
  const escrowKeyArn = r.required(ENV.escrowKeyArn, kmsKeyArn);
  const escrowRsaPublicKey = r.optional(ENV.escrowRsaPublicKey, rsaPublicKeySchema);
  const escrowRetentionDays = r.optional(ENV.escrowRetentionDays, z.pipe(positiveIntSchema, z.number().check(z.lte(36_500, 'must be at most 36500')))) ?? CONFIG_DEFAULTS.escrowRetentionDays;
  const recordTargets = r.optional(ENV.recordTargets, recordTargetsSchema) ?? [];
  const tableTargets = r.optional(ENV.tableTargets, tableTargetsSchema) ?? [];
  const censusLossQueueUrls = r.optional(ENV.censusLossQueues, queueUrlsSchema);
  const cacheName = r.optional(ENV.cacheName, cacheNameSchema);
  const cacheEndpoint = r.optional(ENV.cacheEndpoint, cacheEndpointSchema);
  const cacheIamUser = r.optional(ENV.cacheIamUser, cacheIamUserSchema);
  const eventBusName = r.required(ENV.eventBusName, eventBusSchema);
  const breakerThreshold = r.optional(ENV.breakerThreshold, thresholdSchema) ?? CONFIG_DEFAULTS.breakerThreshold;
  const sweepStateMachineArn = r.optional(ENV.sweepStateMachineArn, stateMachineArn);
  const inlineSweepLimit = r.optional(ENV.inlineSweepLimit, positiveIntSchema) ?? CONFIG_DEFAULTS.inlineSweepLimit;
  const catalogTtlMs = r.optional(ENV.catalogTtlMs, catalogTtlSchema);

  if (keyringKeys !== undefined && recordTargets !== undefined) {
    for (const target of recordTargets) {
      if (!(target.keyring in keyringKeys)) {
        r.problem(`${ENV.recordTargets} names keyring '${target.keyring}' which ${ENV.keyringKeys} does not define`);
      }
    }
  }
  if (keyringKeys !== undefined) {
    for (const target of tableTargets) {
      if (!(target.keyring in keyringKeys)) r.problem(`${ENV.tableTargets} names keyring '${target.keyring}' which ${ENV.keyringKeys} does not define`);
    }
  }
  if (cacheIamUser !== undefined && cacheName === undefined && cacheEndpoint === undefined) {
    r.problem(`${ENV.cacheIamUser} is set but neither ${ENV.cacheName} nor ${ENV.cacheEndpoint} is`);
  }
  r.throwIfProblems();

  const cache: CacheConfig | undefined =
    cacheName === undefined && cacheEndpoint === undefined
      ? undefined
      : Object.freeze({
          ...(cacheName === undefined ? {} : { name: cacheName }),
          ...(cacheEndpoint === undefined ? {} : { endpoint: cacheEndpoint }),
          ...(cacheIamUser === undefined ? {} : { iamUser: cacheIamUser }),
        });
  return Object.freeze({
    ...(region === undefined ? {} : { region }),
    catalogBucket,
    catalogPrefix,
    keyringKeys: Object.freeze({ ...keyringKeys }),
    escrowBucket,
    escrowKeyArn,
    ...(escrowRsaPublicKey === undefined ? {} : { escrowRsaPublicKey }),
    escrowRetentionDays,
    recordTargets: Object.freeze(recordTargets.map((t) => Object.freeze({ ...t }))),
    ...(censusLossQueueUrls === undefined ? {} : { censusLossQueueUrls: Object.freeze([...censusLossQueueUrls]) }),
    ...(tableTargets.length === 0 ? {} : { tableTargets: Object.freeze(tableTargets.map((t) => Object.freeze({ keyring: t.keyring, table: t.table, segments: t.segments ?? DEFAULT_TABLE_SEGMENTS }))) }),
    ...(cache === undefined ? {} : { cache }),
    eventBusName,
    breakerThreshold,
    ...(sweepStateMachineArn === undefined ? {} : { sweepStateMachineArn }),
    inlineSweepLimit,
    ...(catalogTtlMs === undefined ? {} : { catalogTtlMs }),
  });
}

/**
 * Reads the local-mode configuration (the CLI on embedded backends).
 *
 * @throws ValidationError naming a malformed variable.
 * @example
 * loadLocalConfig({ REKEY_HOME: '/tmp/rekey' }).home; // '/tmp/rekey'
 */
export function loadLocalConfig(env: Env = process.env): LocalConfig {
  const r = new EnvReader(env);
  const home = r.optional(ENV.home, z.string().check(z.maxLength(4096, 'must be at most 4096 characters'), z.refine((s: string) => !s.includes('\0'), 'must not contain NUL')));
  const redisUrl = r.optional(ENV.redisUrl, redisUrlSchema);
  const catalogTtlMs = r.optional(ENV.catalogTtlMs, catalogTtlSchema);
  const postgresUrl = r.optional(ENV.postgresUrl, postgresUrlSchema);
  r.throwIfProblems();
  return Object.freeze({
    home: home ?? CONFIG_DEFAULTS.home,
    ...(redisUrl === undefined ? {} : { redisUrl }),
    ...(postgresUrl === undefined ? {} : { postgresUrl }),
    ...(catalogTtlMs === undefined ? {} : { catalogTtlMs }),
  });
}
