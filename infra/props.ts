/**
 * Props of the rekey stack and their validation. The same shape is accepted from code
 * (`new RekeyStack(app, 'Rekey', props)`) and from the `rekey` key of cdk.json context; both go
 * through {@link resolveRekeyProps} before a single construct is built, so a typo fails synth
 * with one clear ValidationError that names every bad field.
 */
import * as z from 'zod';
import type { KeyringPolicy } from '../shared/catalog/model';
import { parseDuration } from '../shared/catalog/duration';
import { parsePolicy } from '../shared/catalog/policy';
import { RekeyError, ValidationError } from '../shared/errors';
import { bucketName, keyPrefix, keyringName, kmsKeyArn } from '../shared/vocabulary/names';

/** How sensitive a keyring's data is; drives alarm thresholds (see docs/deploy.md). */
export type Sensitivity = 'low' | 'moderate' | 'high';

/** One keyring: its rotation policy and who may use it. */
export interface KeyringProps {
  /** Keyring name (1-64 of `[A-Za-z0-9._-]`); appears in encryption contexts and metric dimensions. */
  readonly name: string;
  /**
   * Rotate when the active version is this old (`90d`, `36h`, ...).
   * @default '90d'
   */
  readonly rotateEvery?: string;
  /**
   * How long a superseded version stays fully usable before it is deprecated.
   * @default '7d'
   */
  readonly grace?: string;
  /**
   * How long a new version stays pending (readers learn it, KMS grants propagate) before it encrypts.
   * @default '10m'
   */
  readonly propagation?: string;
  /**
   * How long a disabled version is kept before it may be destroyed.
   * @default '30d'
   */
  readonly retention?: string;
  /**
   * Sensitivity of the data; `high` alarms on the first decrypt failure.
   * @default 'moderate'
   */
  readonly sensitivity?: Sensitivity;
  /**
   * ARNs of IAM roles of the applications that encrypt and decrypt with this keyring.
   * More can be added in code with `RekeyStack.grantKeyringUse`.
   * @default - none
   */
  readonly applicationRoleArns?: readonly string[];
}

/** A bucket/prefix of application records (envelopes) that the re-encryption sweep covers. */
export interface RecordTargetProps {
  /** The keyring whose versions encrypt these records. */
  readonly keyring: string;
  /** Name of the existing bucket holding the records. */
  readonly bucket: string;
  /**
   * Key prefix of the records inside the bucket.
   * @default '' (the whole bucket)
   */
  readonly prefix?: string;
  /**
   * ARN of the KMS key of the bucket's default encryption, when it is SSE-KMS with a customer key.
   * @default - the bucket uses SSE-S3 (no KMS permission granted)
   */
  readonly bucketKmsKeyArn?: string;
}

/** An existing ElastiCache (Redis/Valkey) holding rekey's encrypted cache. */
export interface CacheProps {
  /** Replication group id or serverless cache name. */
  readonly name: string;
  /**
   * ElastiCache user id for IAM authentication.
   * @default - no IAM authentication
   */
  readonly iamUser?: string;
  /** VPC of the cache; the cache-facing functions run in it. */
  readonly vpcId: string;
  /** Availability zones of `subnetIds`, in the same order. */
  readonly availabilityZones: readonly string[];
  /** Private subnets (with a route to S3, KMS, EventBridge and ElastiCache APIs) for the functions. */
  readonly subnetIds: readonly string[];
  /** Security groups that the cache admits on its port. */
  readonly securityGroupIds: readonly string[];
}

/** Escrow of version keys. */
export interface EscrowProps {
  /**
   * Object Lock (compliance mode) default retention of escrow records; whole days.
   * @default '365d'
   */
  readonly retention?: string;
  /**
   * Roles allowed to decrypt with the escrow key (break-glass restore by operators).
   * @default - none: only the escrow function's drill can unwrap escrowed keys
   */
  readonly restoreRoleArns?: readonly string[];
}

/** Where alarms go. */
export interface AlarmProps {
  /**
   * E-mail address subscribed to the stack's (KMS-encrypted) alarm topic.
   * @default - no subscription
   */
  readonly email?: string;
  /**
   * ARN of an existing SNS topic to notify instead of creating one.
   * @default - the stack creates a topic
   */
  readonly topicArn?: string;
}

/** The background re-encryption sweep (Step Functions Distributed Map). */
export interface SweepProps {
  /**
   * Concurrent reencrypt batches (also the function's reserved concurrency).
   * @default 10
   */
  readonly maxConcurrency?: number;
  /**
   * Objects per reencrypt invocation.
   * @default 100
   */
  readonly itemsPerBatch?: number;
  /**
   * How often each record target is swept in rewrap mode.
   * @default '1d'
   */
  readonly every?: string;
  /**
   * A sweep running longer than this is stopped and alarmed as stalled.
   * @default '12h'
   */
  readonly timeout?: string;
}

/** How often the scheduled reconcilers run (at least one minute each). */
export interface ScheduleProps {
  /** @default '1h' */
  readonly rotationCheck?: string;
  /** @default '15m' */
  readonly gracePeriod?: string;
  /** @default '1h' */
  readonly escrowArchive?: string;
  /** @default '1d' */
  readonly escrowDrill?: string;
  /** @default '1h' */
  readonly cacheInvalidate?: string;
  /** Backstop of the KMS grant reconciler (it also runs on every catalog write). @default '10m' */
  readonly keyAccessSync?: string;
}

/** Everything that configures a rekey deployment (the `rekey` context key holds the same JSON). */
export interface RekeyConfigProps {
  /** The keyrings; at least one, names unique. */
  readonly keyrings: readonly KeyringProps[];
  /**
   * Buckets/prefixes of records the sweep re-encrypts.
   * @default - none
   */
  readonly recordTargets?: readonly RecordTargetProps[];
  /**
   * The encrypted cache.
   * @default - no cache: cache-invalidate runs outside any VPC and finds nothing to purge
   */
  readonly cache?: CacheProps;
  /** @default - retention '365d', no restore roles */
  readonly escrow?: EscrowProps;
  /** @default - a new topic without subscription */
  readonly alarms?: AlarmProps;
  /** @default - see SweepProps */
  readonly sweep?: SweepProps;
  /** @default - see ScheduleProps */
  readonly schedules?: ScheduleProps;
  /**
   * Key prefix of catalog documents in the catalog bucket.
   * @default 'catalog/'
   */
  readonly catalogPrefix?: string;
  /**
   * Decrypt-failure ratio in (0, 1] above which the circuit breaker pauses automatic transitions.
   * @default 0.05
   */
  readonly breakerThreshold?: number;
  /**
   * Retention of the functions' and state machine's logs, in days (a CloudWatch Logs value).
   * @default 365
   */
  readonly logRetentionDays?: number;
  /**
   * Reserve Lambda concurrency (revoke 2, key-access 1, reencrypt = sweep concurrency). Turn off
   * in accounts whose concurrency quota is still the new-account 10.
   * @default true
   */
  readonly reserveConcurrency?: boolean;
  /**
   * ARNs of IAM roles of the operators who run `rekey --aws` (status, rotate, freeze, unfreeze,
   * revoke, escrow verify). They get exactly what those commands call and no key material; see
   * docs/deploy.md for the identity policy a role of another account needs on its side.
   * @default - none
   */
  readonly operatorRoleArns?: readonly string[];
}

/** A keyring after validation: durations in seconds. */
export interface ResolvedKeyring {
  readonly name: string;
  readonly policy: KeyringPolicy;
  readonly sensitivity: Sensitivity;
  readonly applicationRoleArns: readonly string[];
}

/** A record target after validation. */
export interface ResolvedRecordTarget {
  readonly keyring: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly bucketKmsKeyArn?: string;
}

/** Validated configuration with every default applied; what the stack builds from. */
export interface ResolvedRekeyConfig {
  readonly keyrings: readonly ResolvedKeyring[];
  readonly recordTargets: readonly ResolvedRecordTarget[];
  readonly cache?: CacheProps;
  readonly escrow: { readonly retentionDays: number; readonly restoreRoleArns: readonly string[] };
  readonly alarms: AlarmProps;
  readonly sweep: { readonly maxConcurrency: number; readonly itemsPerBatch: number; readonly everySeconds: number; readonly timeoutSeconds: number };
  readonly schedules: Readonly<Record<keyof Required<ScheduleProps>, number>>;
  readonly catalogPrefix: string;
  readonly breakerThreshold: number;
  readonly logRetentionDays: number;
  readonly reserveConcurrency: boolean;
  readonly operatorRoleArns: readonly string[];
}

/** Defaults applied by {@link resolveRekeyProps}. */
export const REKEY_PROPS_DEFAULTS = {
  sensitivity: 'moderate' as Sensitivity,
  escrowRetention: '365d',
  sweep: { maxConcurrency: 10, itemsPerBatch: 100, every: '1d', timeout: '12h' },
  schedules: { rotationCheck: '1h', gracePeriod: '15m', escrowArchive: '1h', escrowDrill: '1d', cacheInvalidate: '1h', keyAccessSync: '10m' },
  catalogPrefix: 'catalog/',
  breakerThreshold: 0.05,
  logRetentionDays: 365,
} as const;

// CloudWatch Logs accepts only these retention values.
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

const roleArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)');
const duration = z.string().refine((s) => {
  try {
    parseDuration(s);
    return true;
  } catch {
    return false;
  }
}, 'must be a duration such as 90d, 36h, 10m or 30s');
const awsId = (prefix: string) => z.string().regex(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), `must be an id such as ${prefix}-0123abcd`);
const elastiCacheId = z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,39}$/, 'must be an ElastiCache id (a letter, then letters, digits or "-", at most 40)');

// The catalog core accepts lowercase names only (shared/catalog/policy.ts); refuse the rest at synth.
// The shared name schemas are zod/mini (they are bundled into the functions): compose them with
// zod's functions (z.optional, .check) rather than full zod's methods.
const stackKeyringName = keyringName.check(z.regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be lowercase letters, digits, ".", "_" or "-"'));

const keyringSchema = z.strictObject({
  name: stackKeyringName,
  rotateEvery: duration.optional(),
  grace: duration.optional(),
  propagation: duration.optional(),
  retention: duration.optional(),
  sensitivity: z.enum(['low', 'moderate', 'high']).optional(),
  applicationRoleArns: z.array(roleArn).max(50, 'at most 50 roles per keyring').optional(),
});

const configSchema = z.strictObject({
  keyrings: z.array(keyringSchema).min(1, 'at least one keyring is required').max(50, 'at most 50 keyrings'),
  recordTargets: z
    .array(z.strictObject({ keyring: stackKeyringName, bucket: bucketName, prefix: z.optional(keyPrefix), bucketKmsKeyArn: z.optional(kmsKeyArn) }))
    .max(100, 'at most 100 record targets')
    .optional(),
  cache: z
    .strictObject({
      name: elastiCacheId,
      iamUser: elastiCacheId.optional(),
      vpcId: awsId('vpc'),
      availabilityZones: z.array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}[a-z]$/, 'must be an availability zone such as eu-west-1a')).min(1),
      subnetIds: z.array(awsId('subnet')).min(1, 'at least one subnet is required'),
      securityGroupIds: z.array(awsId('sg')).min(1, 'at least one security group is required').max(5),
    })
    .refine((c) => c.availabilityZones.length === c.subnetIds.length, { message: 'availabilityZones must list one zone per subnet, in order', path: ['availabilityZones'] })
    .optional(),
  escrow: z.strictObject({ retention: duration.optional(), restoreRoleArns: z.array(roleArn).max(20).optional() }).optional(),
  alarms: z
    .strictObject({
      email: z.email('must be an e-mail address').optional(),
      topicArn: z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'must be an SNS topic ARN').optional(),
    })
    .refine((a) => a.email === undefined || a.topicArn === undefined, { message: 'give either email or topicArn, not both', path: ['topicArn'] })
    .optional(),
  sweep: z
    .strictObject({
      maxConcurrency: z.int().min(1).max(1000).optional(),
      itemsPerBatch: z.int().min(1).max(1000).optional(),
      every: duration.optional(),
      timeout: duration.optional(),
    })
    .optional(),
  schedules: z
    .strictObject({
      rotationCheck: duration.optional(),
      gracePeriod: duration.optional(),
      escrowArchive: duration.optional(),
      escrowDrill: duration.optional(),
      cacheInvalidate: duration.optional(),
      keyAccessSync: duration.optional(),
    })
    .optional(),
  catalogPrefix: z.optional(keyPrefix.check(z.refine((p: string) => p.length > 1 && p.endsWith('/'), 'must be a folder such as "catalog/"'))),
  breakerThreshold: z.number().gt(0, 'must be greater than 0').lte(1, 'must be at most 1').optional(),
  logRetentionDays: z
    .int()
    .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), `must be one of ${LOG_RETENTION_DAYS.join(', ')}`)
    .optional(),
  reserveConcurrency: z.boolean().optional(),
  operatorRoleArns: z.array(roleArn).max(20, 'at most 20 operator roles').optional(),
});

/** Keys of {@link RekeyConfigProps}; the stack passes only these to validation (not StackProps). */
export const REKEY_CONFIG_KEYS: readonly (keyof RekeyConfigProps)[] = Object.keys(configSchema.shape) as (keyof RekeyConfigProps)[];

/**
 * Validates rekey props (from code or cdk.json context) and applies the defaults.
 * Every problem is reported at once, each with the path of the offending field.
 *
 * @example
 * const config = resolveRekeyProps({ keyrings: [{ name: 'pii', rotateEvery: '30d' }] });
 * config.keyrings[0]?.policy.rotateEverySeconds; // 2592000
 * @throws ValidationError when anything is missing, malformed or inconsistent.
 */
export function resolveRekeyProps(input: unknown): ResolvedRekeyConfig {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`);
    throw new ValidationError(`invalid rekey props: ${[...new Set(problems)].join('; ')}`);
  }
  const props = parsed.data;
  const problems: string[] = [];

  const seen = new Set<string>();
  const keyrings: ResolvedKeyring[] = [];
  props.keyrings.forEach((k, i) => {
    if (seen.has(k.name)) problems.push(`keyrings.${i}.name: duplicate keyring '${k.name}'`);
    seen.add(k.name);
    const roles = k.applicationRoleArns ?? [];
    if (new Set(roles).size !== roles.length) problems.push(`keyrings.${i}.applicationRoleArns: duplicate role ARN`);
    try {
      const policy = parsePolicy({ rotateEvery: k.rotateEvery, grace: k.grace, propagation: k.propagation, retention: k.retention });
      keyrings.push({ name: k.name, policy, sensitivity: k.sensitivity ?? REKEY_PROPS_DEFAULTS.sensitivity, applicationRoleArns: roles });
    } catch (err) {
      problems.push(`keyrings.${i}: ${err instanceof RekeyError ? err.message : 'invalid policy'}`);
    }
  });

  const targets = (props.recordTargets ?? []).map((t) => ({ ...t, prefix: t.prefix ?? '' }));
  const targetIds = new Set<string>();
  targets.forEach((t, i) => {
    if (!seen.has(t.keyring)) problems.push(`recordTargets.${i}.keyring: unknown keyring '${t.keyring}'`);
    const id = `${t.bucket}/${t.prefix}`;
    if (targetIds.has(id)) problems.push(`recordTargets.${i}: duplicate target s3://${id}`);
    targetIds.add(id);
  });

  const secondsOf = (text: string): number => parseDuration(text);
  const escrowSeconds = secondsOf(props.escrow?.retention ?? REKEY_PROPS_DEFAULTS.escrowRetention);
  if (escrowSeconds < 86_400 || escrowSeconds % 86_400 !== 0) problems.push('escrow.retention: must be a whole number of days (at least 1d)');

  const schedules = { ...REKEY_PROPS_DEFAULTS.schedules, ...props.schedules };
  const scheduleSeconds = {} as Record<keyof typeof schedules, number>;
  for (const [name, text] of Object.entries(schedules) as [keyof typeof schedules, string][]) {
    const s = secondsOf(text);
    if (s < 60 || s % 60 !== 0) problems.push(`schedules.${name}: must be a whole number of minutes (at least 1m)`);
    scheduleSeconds[name] = s;
  }
  const sweep = { ...REKEY_PROPS_DEFAULTS.sweep, ...props.sweep };
  const sweepEvery = secondsOf(sweep.every);
  const sweepTimeout = secondsOf(sweep.timeout);
  if (sweepEvery < 60 || sweepEvery % 60 !== 0) problems.push('sweep.every: must be a whole number of minutes (at least 1m)');
  if (sweepTimeout < 60 || sweepTimeout > 365 * 86_400) problems.push('sweep.timeout: must be between 1m and 365d');
  const operators = props.operatorRoleArns ?? [];
  if (new Set(operators).size !== operators.length) problems.push('operatorRoleArns: duplicate role ARN');

  if (problems.length > 0) throw new ValidationError(`invalid rekey props: ${problems.join('; ')}`);

  return {
    keyrings,
    recordTargets: targets,
    ...(props.cache === undefined ? {} : { cache: props.cache }),
    escrow: { retentionDays: escrowSeconds / 86_400, restoreRoleArns: props.escrow?.restoreRoleArns ?? [] },
    alarms: props.alarms ?? {},
    sweep: { maxConcurrency: sweep.maxConcurrency, itemsPerBatch: sweep.itemsPerBatch, everySeconds: sweepEvery, timeoutSeconds: sweepTimeout },
    schedules: scheduleSeconds,
    catalogPrefix: props.catalogPrefix ?? REKEY_PROPS_DEFAULTS.catalogPrefix,
    breakerThreshold: props.breakerThreshold ?? REKEY_PROPS_DEFAULTS.breakerThreshold,
    logRetentionDays: props.logRetentionDays ?? REKEY_PROPS_DEFAULTS.logRetentionDays,
    reserveConcurrency: props.reserveConcurrency ?? true,
    operatorRoleArns: operators,
  };
}
