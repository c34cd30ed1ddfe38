/**
 * Props of the rekey stack, stated once: one zod schema (fields, rules, cross-field checks and
 * the defaults it resolves to), and every type inferred from it. The same shape is accepted
 * from code (`new RekeyStack(app, 'Rekey', props)`) and from the `rekey` key of cdk.json
 * context; both go through {@link resolveRekeyProps} before a single construct is built, so a
 * typo fails synth with one clear ValidationError that names every bad field.
 *
 * Full zod, not zod/mini: this module runs only in the CDK app, never in a function bundle. The
 * shared name schemas are zod/mini (they are bundled into the functions): they are composed
 * with zod's functions (z.optional, .check) rather than full zod's methods.
 */
import * as z from 'zod';
import { parseDuration } from '../shared/vocabulary/duration';
import { parsePolicy } from '../shared/catalog/policy';
import { MAX_CONSUMER_ACCOUNTS } from '../shared/config/load-consumer-bound';
import { RekeyError, ValidationError } from '../shared/errors';
import { bucketName, keyPrefix, keyringName, kmsKeyArn } from '../shared/vocabulary/names';
import { DEFAULT_TABLE_SEGMENTS, MAX_TABLE_SEGMENTS } from '../shared/vocabulary/event-schemas';

/** Defaults applied by {@link resolveRekeyProps}. */
export const REKEY_PROPS_DEFAULTS = {
  sensitivity: 'moderate',
  escrowRetention: '365d',
  sweep: { maxConcurrency: 10, itemsPerBatch: 100, every: '1d', timeout: '12h' },
  schedules: { rotationCheck: '1h', gracePeriod: '15m', escrowArchive: '1h', escrowDrill: '1d', cacheInvalidate: '1h', keyAccessSync: '10m' },
  catalogPrefix: 'catalog/',
  breakerThreshold: 0.05,
  logRetentionDays: 365,
} as const;

// CloudWatch Logs accepts only these retention values.
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;
const DAY = 86_400;

/** A duration's seconds, or undefined when the text is not a duration. */
function secondsOf(text: string): number | undefined {
  try {
    return parseDuration(text);
  } catch {
    return undefined;
  }
}

/**
 * A duration string (`90d`, `36h`, ...), optionally held to a further rule on its seconds. A
 * malformed duration aborts (`continue: false`), so no later check ever parses it again.
 */
function duration(rule?: { readonly holds: (seconds: number) => boolean; readonly message: string }) {
  return z.string().superRefine((text, ctx) => {
    const seconds = secondsOf(text);
    if (seconds === undefined) ctx.addIssue({ code: 'custom', message: 'must be a duration such as 90d, 36h, 10m or 30s', input: text, continue: false });
    else if (rule !== undefined && !rule.holds(seconds)) ctx.addIssue({ code: 'custom', message: rule.message, input: text });
  });
}
const wholeMinutes = { holds: (s: number) => s >= 60 && s % 60 === 0, message: 'must be a whole number of minutes (at least 1m)' };

const roleArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)');
const principalArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]{1,512}$/, 'must be an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)');
const awsId = (prefix: string) => z.string().regex(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), `must be an id such as ${prefix}-0123abcd`);
const elastiCacheId = z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,39}$/, 'must be an ElastiCache id (a letter, then letters, digits or "-", at most 40)');
const hasDuplicates = (values: readonly string[]): boolean => new Set(values).size !== values.length;

// The catalog core accepts lowercase names only (shared/catalog/policy.ts); refuse the rest at synth.
const stackKeyringName = keyringName.check(z.regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be lowercase letters, digits, ".", "_" or "-"'));

const sensitivitySchema = z.enum(['low', 'moderate', 'high']);

const keyringSchema = z
  .strictObject({
    /** Keyring name (1-64 of `[a-z0-9._-]`); appears in encryption contexts and metric dimensions. */
    name: stackKeyringName,
    /** Rotate when the active version is this old (`90d`, `36h`, ...). @default '90d' */
    rotateEvery: duration().optional(),
    /** How long a superseded version stays fully usable before it is deprecated. @default '7d' */
    grace: duration().optional(),
    /** How long a new version stays pending (readers learn it, KMS grants propagate) before it encrypts. @default '10m' */
    propagation: duration().optional(),
    /** How long a disabled version is kept before it may be destroyed. @default '30d' */
    retention: duration().optional(),
    /**
     * How long a deprecated or revoked version's key must go unobserved (no KMS Decrypt of it in
     * CloudTrail, as the key-use function records) before the version is disabled. Keep it well
     * above the readers' version-key cache lifetime and CloudTrail's delivery delay; `0s` disables
     * on reference counts alone (never for a keyring with unmanaged sources: they keep 7 days).
     * @default '7d'
     */
    quiet: duration().optional(),
    /**
     * Destroy a disabled version once `retention` has passed (and only with no counted reference
     * left, the quiet period over and a verified escrow drill). Destruction is opt-in.
     * @default false
     */
    destroyAfterRetention: z.boolean().optional(),
    /** Sensitivity of the data; `high` alarms on the first decrypt failure. @default 'moderate' */
    sensitivity: sensitivitySchema.optional(),
    /**
     * ARNs of IAM roles of the applications that encrypt and decrypt with this keyring. More can
     * be added in code with `RekeyStack.grantKeyringUse`. @default - none
     */
    applicationRoleArns: z.array(roleArn).max(50, 'at most 50 roles per keyring').optional(),
  })
  .superRefine((k, ctx) => {
    if (hasDuplicates(k.applicationRoleArns ?? [])) ctx.addIssue({ code: 'custom', path: ['applicationRoleArns'], message: 'duplicate role ARN', input: k });
    try {
      parsePolicy(k);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof RekeyError ? err.message : 'invalid policy', input: k });
    }
  });

/** A DynamoDB table of records in DynamoDbRecordStore's layout (shared/adapters/aws/dynamodb-record-table.ts). */
const tableTargetSchema = z.strictObject({
  /** The keyring whose versions encrypt these records. */
  keyring: stackKeyringName,
  /** Name of the existing table (this stack's account and region). */
  table: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name (3 to 255 letters, digits, "_", "-" or ".")'),
  /** Parallel-scan segments the sweep fans out over. @default 8 */
  segments: z.number().int('must be an integer').min(1, `must be 1 to ${MAX_TABLE_SEGMENTS}`).max(MAX_TABLE_SEGMENTS, `must be 1 to ${MAX_TABLE_SEGMENTS}`).optional(),
});

const recordTargetSchema = z.strictObject({
  /** The keyring whose versions encrypt these records. */
  keyring: stackKeyringName,
  /** Name of the existing bucket holding the records. */
  bucket: bucketName,
  /** Key prefix of the records inside the bucket. @default '' (the whole bucket) */
  prefix: z.optional(keyPrefix),
  /** ARN of the KMS key of the bucket's default encryption (SSE-KMS with a customer key). @default - SSE-S3: no KMS permission granted */
  bucketKmsKeyArn: z.optional(kmsKeyArn),
  /**
   * Where new record objects keep their envelope header: `'body'` (the object is the envelope)
   * or `'metadata'` (in `x-amz-meta-rekey-header`; a header re-wrap is then a metadata-only
   * CopyObject that moves no body byte, see docs/record-stores.md). Readers other than rekey's
   * must then read the header from the metadata. @default 'body'
   */
  layout: z.optional(z.enum(['body', 'metadata'])),
});

const cacheSchema = z
  .strictObject({
    /** Replication group id or serverless cache name. */
    name: elastiCacheId,
    /** ElastiCache user id for IAM authentication. @default - no IAM authentication */
    iamUser: elastiCacheId.optional(),
    /** VPC of the cache; the cache-facing functions run in it. */
    vpcId: awsId('vpc'),
    /** Availability zones of `subnetIds`, in the same order. */
    availabilityZones: z.array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}[a-z]$/, 'must be an availability zone such as eu-west-1a')).min(1),
    /** Private subnets (with a route to S3, KMS, EventBridge and ElastiCache APIs) for the functions. */
    subnetIds: z.array(awsId('subnet')).min(1, 'at least one subnet is required'),
    /** Security groups that the cache admits on its port. */
    securityGroupIds: z.array(awsId('sg')).min(1, 'at least one security group is required').max(5),
  })
  .refine((c) => c.availabilityZones.length === c.subnetIds.length, { message: 'availabilityZones must list one zone per subnet, in order', path: ['availabilityZones'] });

const escrowSchema = z.strictObject({
  /** Object Lock (compliance mode) default retention of escrow records; whole days. @default '365d' */
  retention: duration({ holds: (s) => s >= DAY && s % DAY === 0, message: 'must be a whole number of days (at least 1d)' }).optional(),
  /** Roles allowed to decrypt with the escrow key (break-glass restore). @default - none: only the escrow function's drill unwraps */
  restoreRoleArns: z.array(roleArn).max(20).optional(),
});

const alarmsSchema = z
  .strictObject({
    /** E-mail address subscribed to the stack's (KMS-encrypted) alarm topic. @default - no subscription */
    email: z.email('must be an e-mail address').optional(),
    /** ARN of an existing SNS topic to notify instead of creating one. @default - the stack creates a topic */
    topicArn: z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'must be an SNS topic ARN').optional(),
  })
  .refine((a) => a.email === undefined || a.topicArn === undefined, { message: 'give either email or topicArn, not both', path: ['topicArn'] });

const sweepSchema = z.strictObject({
  /** Concurrent reencrypt batches (also the function's reserved concurrency). @default 10 */
  maxConcurrency: z.int().min(1).max(1000).optional(),
  /** Objects per reencrypt invocation. @default 100 */
  itemsPerBatch: z.int().min(1).max(1000).optional(),
  /** How often each record target is swept in rewrap mode. @default '1d' */
  every: duration(wholeMinutes).optional(),
  /** A sweep running longer than this is stopped and alarmed as stalled. @default '12h' */
  timeout: duration({ holds: (s) => s >= 60 && s <= 365 * DAY, message: 'must be between 1m and 365d' }).optional(),
});

/** How often the scheduled reconcilers run (whole minutes, at least one each). */
const schedulesSchema = z.strictObject({
  /** @default '1h' */
  rotationCheck: duration(wholeMinutes).optional(),
  /** @default '15m' */
  gracePeriod: duration(wholeMinutes).optional(),
  /** @default '1h' */
  escrowArchive: duration(wholeMinutes).optional(),
  /** @default '1d' */
  escrowDrill: duration(wholeMinutes).optional(),
  /** @default '1h' */
  cacheInvalidate: duration(wholeMinutes).optional(),
  /** Backstop of the KMS grant reconciler (it also runs on every catalog write). @default '10m' */
  keyAccessSync: duration(wholeMinutes).optional(),
});

const configShape = z.strictObject({
  /** The keyrings; at least one, names unique. */
  keyrings: z.array(keyringSchema).min(1, 'at least one keyring is required').max(50, 'at most 50 keyrings'),
  /** Buckets/prefixes of records the sweep re-encrypts. @default - none */
  recordTargets: z.array(recordTargetSchema).max(100, 'at most 100 record targets').optional(),
  /** DynamoDB tables of records the sweep re-encrypts (one keyring per table). @default - none */
  tableTargets: z.array(tableTargetSchema).max(100, 'at most 100 table targets').optional(),
  /** The encrypted cache. @default - no cache: cache-invalidate runs outside any VPC and finds nothing to purge */
  cache: cacheSchema.optional(),
  /** @default - retention '365d', no restore roles */
  escrow: escrowSchema.optional(),
  /** @default - a new topic without subscription */
  alarms: alarmsSchema.optional(),
  /** @default - see the sweep fields */
  sweep: sweepSchema.optional(),
  /** @default - see the schedule fields */
  schedules: schedulesSchema.optional(),
  /** Key prefix of catalog documents in the catalog bucket. @default 'catalog/' */
  catalogPrefix: z.optional(keyPrefix.check(z.refine((p: string) => p.length > 1 && p.endsWith('/'), 'must be a folder such as "catalog/"'))),
  /** Decrypt-failure ratio in (0, 1] above which the circuit breaker pauses automatic transitions. @default 0.05 */
  breakerThreshold: z.number().gt(0, 'must be greater than 0').lte(1, 'must be at most 1').optional(),
  /** Retention of the functions' and state machine's logs, in days (a CloudWatch Logs value). @default 365 */
  logRetentionDays: z
    .int()
    .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), `must be one of ${LOG_RETENTION_DAYS.join(', ')}`)
    .optional(),
  /**
   * Reserve Lambda concurrency (revoke 2, key-access 1, reencrypt = sweep concurrency). Turn off
   * in accounts whose concurrency quota is still the new-account 10. @default true
   */
  reserveConcurrency: z.boolean().optional(),
  /**
   * ARNs of IAM roles of the operators who run `rekey --aws` (status, rotate, freeze, unfreeze,
   * revoke, escrow verify). They get exactly what those commands call and no key material; see
   * docs/deploy.md for the identity policy a role of another account needs on its side. @default - none
   */
  operatorRoleArns: z.array(roleArn).max(20, 'at most 20 operator roles').optional(),
  /**
   * IAM principals (roles or users) allowed to put `Key Version Compromised` on the stack's bus;
   * the bus policy denies that detail-type to everyone else, whatever their IAM policies say.
   * @default - the operator roles (`operatorRoleArns`), who run `rekey --aws revoke`
   */
  securityPrincipalArns: z.array(principalArn).max(20, 'at most 20 security principals').optional(),
  /**
   * A break-glass role allowed to administer the stack's KMS keys (PutKeyPolicy,
   * ScheduleKeyDeletion, DisableKey, ...) besides the deploying role; every such call alarms.
   * It must exist when the stack is deployed (KMS refuses a key policy naming an unknown principal).
   * @default - none: only the deploying role administers the keys
   */
  breakGlassRoleArn: roleArn.optional(),
  /**
   * The role CloudFormation deploys the stack with, administrator of the stack's keys. Needed
   * only when the stack's synthesizer names no CloudFormation execution role (a non-default
   * synthesizer). @default - the DefaultStackSynthesizer's cloudFormationExecutionRoleArn (cdk bootstrap's cfn-exec role)
   */
  deployRoleArn: roleArn.optional(),
  /**
   * AWS accounts whose IAM roles the consumer registry (`rekey consumers add`) may name: the
   * key policies let key-access create grants for `arn:<partition>:iam::<account>:role/*` of
   * these accounts only, and the catalog and escrow buckets admit the accounts other than the
   * stack's own (each still needs an identity policy on its side and a registry entry). An
   * empty list turns registry consumers off; deploy-time grantees are unaffected.
   * @default - the stack's own account
   */
  consumerAccounts: z.array(z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id')).max(MAX_CONSUMER_ACCOUNTS, `at most ${MAX_CONSUMER_ACCOUNTS} consumer accounts`).optional(),
});

/** The rules that span fields: unique keyrings, targets of known keyrings, unique targets and operators. */
function checkAcrossFields(props: z.output<typeof configShape>, ctx: z.RefinementCtx): void {
  const problem = (path: (string | number)[], message: string): void => ctx.addIssue({ code: 'custom', path, message, input: props });
  const names = new Set<string>();
  props.keyrings.forEach((k, i) => {
    if (names.has(k.name)) problem(['keyrings', i, 'name'], `duplicate keyring '${k.name}'`);
    names.add(k.name);
  });
  const targets = new Set<string>();
  (props.recordTargets ?? []).forEach((t, i) => {
    if (!names.has(t.keyring)) problem(['recordTargets', i, 'keyring'], `unknown keyring '${t.keyring}'`);
    const id = `${t.bucket}/${t.prefix ?? ''}`;
    if (targets.has(id)) problem(['recordTargets', i], `duplicate target s3://${id}`);
    targets.add(id);
  });
  const tables = new Set<string>();
  (props.tableTargets ?? []).forEach((t, i) => {
    if (!names.has(t.keyring)) problem(['tableTargets', i, 'keyring'], `unknown keyring '${t.keyring}'`);
    const id = `${t.table}/${t.keyring}`;
    if (tables.has(id)) problem(['tableTargets', i], `duplicate table target ${t.table} of keyring '${t.keyring}'`);
    tables.add(id);
  });
  if (hasDuplicates(props.operatorRoleArns ?? [])) problem(['operatorRoleArns'], 'duplicate role ARN');
  if (hasDuplicates(props.securityPrincipalArns ?? [])) problem(['securityPrincipalArns'], 'duplicate principal ARN');
  if (hasDuplicates(props.consumerAccounts ?? [])) problem(['consumerAccounts'], 'duplicate account');
}

/** Applies the defaults to checked props: durations in seconds, every optional field filled. */
function withDefaults(props: z.output<typeof configShape>) {
  const seconds = (text: string): number => parseDuration(text);
  const schedules = { ...REKEY_PROPS_DEFAULTS.schedules, ...props.schedules };
  const sweep = { ...REKEY_PROPS_DEFAULTS.sweep, ...props.sweep };
  return {
    keyrings: props.keyrings.map((k) => ({
      name: k.name,
      policy: parsePolicy(k),
      sensitivity: k.sensitivity ?? REKEY_PROPS_DEFAULTS.sensitivity,
      applicationRoleArns: k.applicationRoleArns ?? [],
    })),
    recordTargets: (props.recordTargets ?? []).map((t) => ({ ...t, prefix: t.prefix ?? '' })),
    tableTargets: (props.tableTargets ?? []).map((t) => ({ keyring: t.keyring, table: t.table, segments: t.segments ?? DEFAULT_TABLE_SEGMENTS })),
    ...(props.cache === undefined ? {} : { cache: props.cache }),
    escrow: { retentionDays: seconds(props.escrow?.retention ?? REKEY_PROPS_DEFAULTS.escrowRetention) / DAY, restoreRoleArns: props.escrow?.restoreRoleArns ?? [] },
    alarms: props.alarms ?? {},
    sweep: { maxConcurrency: sweep.maxConcurrency, itemsPerBatch: sweep.itemsPerBatch, everySeconds: seconds(sweep.every), timeoutSeconds: seconds(sweep.timeout) },
    schedules: Object.fromEntries(Object.entries(schedules).map(([name, text]) => [name, seconds(text)])) as Record<keyof typeof schedules, number>,
    catalogPrefix: props.catalogPrefix ?? REKEY_PROPS_DEFAULTS.catalogPrefix,
    breakerThreshold: props.breakerThreshold ?? REKEY_PROPS_DEFAULTS.breakerThreshold,
    logRetentionDays: props.logRetentionDays ?? REKEY_PROPS_DEFAULTS.logRetentionDays,
    reserveConcurrency: props.reserveConcurrency ?? true,
    operatorRoleArns: props.operatorRoleArns ?? [],
    securityPrincipalArns: props.securityPrincipalArns ?? props.operatorRoleArns ?? [],
    ...(props.breakGlassRoleArn === undefined ? {} : { breakGlassRoleArn: props.breakGlassRoleArn }),
    ...(props.deployRoleArn === undefined ? {} : { deployRoleArn: props.deployRoleArn }),
    // Absent: the stack's own account, known only to the construct (a token in an environment-agnostic stack).
    ...(props.consumerAccounts === undefined ? {} : { consumerAccounts: props.consumerAccounts }),
  };
}

const configSchema = configShape.superRefine(checkAcrossFields).transform(withDefaults);

/** `T` with every property and array read-only, all the way down (props are never mutated). */
type Immutable<T> = T extends readonly (infer E)[] ? readonly Immutable<E>[] : T extends object ? { readonly [K in keyof T]: Immutable<T[K]> } : T;

/** How sensitive a keyring's data is; drives alarm thresholds (see docs/deploy.md). */
export type Sensitivity = z.infer<typeof sensitivitySchema>;
/** One keyring: its rotation policy and who may use it. */
export type KeyringProps = Immutable<z.input<typeof keyringSchema>>;
/** A bucket/prefix of application records (envelopes) that the re-encryption sweep covers. */
export type RecordTargetProps = Immutable<z.input<typeof recordTargetSchema>>;
/** A DynamoDB table of application records that the re-encryption sweep covers, segment by segment. */
export type TableTargetProps = Immutable<z.input<typeof tableTargetSchema>>;
/** An existing ElastiCache (Redis/Valkey) holding rekey's encrypted cache. */
export type CacheProps = Immutable<z.input<typeof cacheSchema>>;
/** Escrow of version keys. */
export type EscrowProps = Immutable<z.input<typeof escrowSchema>>;
/** Where alarms go. */
export type AlarmProps = Immutable<z.input<typeof alarmsSchema>>;
/** The background re-encryption sweep (Step Functions Distributed Map). */
export type SweepProps = Immutable<z.input<typeof sweepSchema>>;
/** How often the scheduled reconcilers run (at least one minute each). */
export type ScheduleProps = Immutable<z.input<typeof schedulesSchema>>;
/** Everything that configures a rekey deployment (the `rekey` context key holds the same JSON). */
export type RekeyConfigProps = Immutable<z.input<typeof configSchema>>;
/** Validated configuration with every default applied; what the stack builds from. */
export type ResolvedRekeyConfig = Immutable<z.output<typeof configSchema>>;
/** A keyring after validation: durations in seconds. */
export type ResolvedKeyring = ResolvedRekeyConfig['keyrings'][number];
/** A record target after validation (prefix defaulted). */
export type ResolvedRecordTarget = ResolvedRekeyConfig['recordTargets'][number];

/** A table target after validation (segments defaulted). */
export type ResolvedTableTarget = ResolvedRekeyConfig['tableTargets'][number];

/** Keys of {@link RekeyConfigProps}; the stack passes only these to validation (not StackProps). */
export const REKEY_CONFIG_KEYS: readonly (keyof RekeyConfigProps)[] = Object.keys(configShape.shape) as (keyof RekeyConfigProps)[];

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
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`);
  throw new ValidationError(`invalid rekey props: ${[...new Set(problems)].join('; ')}`);
}
