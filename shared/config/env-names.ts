/**
 * Names of the environment variables that configure rekey's Lambda functions and CLI.
 * The CDK stack sets them (infra/), the config loader reads them (shared/config/), and nothing
 * else reads process.env.
 */
export const ENV = {
  /** Bucket holding one catalog document per keyring (versioned). */
  catalogBucket: 'REKEY_CATALOG_BUCKET',
  /** Key prefix of catalog documents inside the bucket (default `catalog/`). */
  catalogPrefix: 'REKEY_CATALOG_PREFIX',
  /** JSON object: keyring name -> ARN of the KMS key that wraps its version keys. */
  keyringKeys: 'REKEY_KEYRING_KEYS',
  /** Bucket with Object Lock holding escrow records. */
  escrowBucket: 'REKEY_ESCROW_BUCKET',
  /** ARN of the separate KMS key that wraps escrowed version keys. */
  escrowKeyArn: 'REKEY_ESCROW_KEY_ARN',
  /** Optional PEM (SPKI) RSA public key for an offline escrow copy. */
  escrowRsaPublicKey: 'REKEY_ESCROW_RSA_PUBLIC_KEY',
  /** JSON array of record targets: [{ keyring, bucket, prefix }]. */
  recordTargets: 'REKEY_RECORD_TARGETS',
  /** JSON array of DynamoDB record tables: [{ keyring, table, segments }] (same account and region). */
  tableTargets: 'REKEY_TABLE_TARGETS',
  /**
   * JSON array of the SQS queue URLs where a lost census write mark ends up (the record-written
   * rule's DLQ, key-use's failure queue): while one holds a message, S3 targets are counted by listing.
   */
  censusLossQueues: 'REKEY_CENSUS_LOSS_QUEUES',
  /** ElastiCache replication group id or serverless cache name (resolved with client-elasticache). */
  cacheName: 'REKEY_CACHE_NAME',
  /** Explicit cache endpoint `rediss://host:port` (overrides cacheName). */
  cacheEndpoint: 'REKEY_CACHE_ENDPOINT',
  /** ElastiCache user id for IAM authentication (empty: no IAM auth). */
  cacheIamUser: 'REKEY_CACHE_IAM_USER',
  /** EventBridge bus for audit events. */
  eventBusName: 'REKEY_EVENT_BUS_NAME',
  /** Decrypt-failure ratio above which the circuit breaker pauses automatic transitions (0..1). */
  breakerThreshold: 'REKEY_BREAKER_THRESHOLD',
  /** Local mode: the rekey home folder (default ./.rekey). */
  home: 'REKEY_HOME',
  /** Local mode: use this Redis for the cache instead of process memory. */
  redisUrl: 'REKEY_REDIS_URL',
  /** Local mode: keep records in this PostgreSQL (postgres:// or postgresql:// URL) instead of SQLite. */
  postgresUrl: 'REKEY_POSTGRES_URL',
  /** ARN of the Step Functions state machine (Distributed Map) that sweeps many objects. */
  sweepStateMachineArn: 'REKEY_SWEEP_STATE_MACHINE_ARN',
  /** A revocation sweeps inline (no state machine) when a keyring has at most this many records (default 1000). */
  inlineSweepLimit: 'REKEY_INLINE_SWEEP_LIMIT',
  /** Days each escrow record stays under Object Lock (whole days; default 365, as the stack's default). */
  escrowRetentionDays: 'REKEY_ESCROW_RETENTION_DAYS',
  /**
   * How long a catalog read is trusted, in milliseconds (default 60000): the key provider's cache
   * lifetime and the wait before a revocation counts what is left, one value for both.
   */
  catalogTtlMs: 'REKEY_CATALOG_TTL_MS',
  /** AWS region of the functions (set by Lambda itself). */
  region: 'AWS_REGION',
} as const;

/**
 * Environment variable of the key-access function only: JSON object keyring → role ARNs that
 * read the keyring's version keys through per-version KMS grants.
 */
export const KEY_GRANTEES_ENV = 'REKEY_KEY_GRANTEES';

/**
 * Environment variable of the key-access function only: JSON array of the 12-digit AWS account
 * ids whose roles the consumer registry may name (the bound the key policies were deployed
 * with; a registry entry outside it is refused). Default when unset: no registry consumers.
 */
export const CONSUMER_ACCOUNTS_ENV = 'REKEY_CONSUMER_ACCOUNTS';

/**
 * Environment variable of the key-access function only: ARN of the ops key (the catalog
 * bucket's key), on which it creates each registry consumer's catalog-read grant.
 */
export const OPS_KEY_ARN_ENV = 'REKEY_OPS_KEY_ARN';
