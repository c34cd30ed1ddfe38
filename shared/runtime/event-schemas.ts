/**
 * zod schemas of the events each rekey function accepts. Strict objects wherever rekey owns the
 * shape (extra fields are a mistake worth reporting); AWS-owned envelopes (EventBridge, Step
 * Functions, S3 Batch Operations) are checked for the fields rekey uses.
 */
import * as z from 'zod';
import { actorText, bucketName, keyPrefix, keyringName, objectKey, reasonText, versionNumber } from './names';

/** Most keyrings one scheduled invocation names explicitly. */
export const MAX_KEYRINGS_PER_EVENT = 100;
/** Most items in one re-encryption batch (a Distributed Map ItemBatcher or S3 Batch task list). */
export const MAX_BATCH_ITEMS = 1000;

/**
 * rotate: `{ keyring }` or `{ keyrings: [...] }` from the schedule (rotates only when the policy
 * says so), or `{ keyring, force: true, actor, reason }` from an operator ("rotate now").
 */
export const rotateEventSchema = z
  .strictObject({
    keyring: keyringName.optional(),
    keyrings: z.array(keyringName).min(1, 'must name at least one keyring').max(MAX_KEYRINGS_PER_EVENT).optional(),
    force: z.literal(true, 'must be true when present').optional(),
    actor: actorText.optional(),
    reason: reasonText.optional(),
  })
  .superRefine((e, ctx) => {
    if ((e.keyring === undefined) === (e.keyrings === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'exactly one of keyring or keyrings is required', path: ['keyring'] });
    }
    if (e.keyrings !== undefined && new Set(e.keyrings).size !== e.keyrings.length) {
      ctx.addIssue({ code: 'custom', message: 'must not repeat a keyring', path: ['keyrings'] });
    }
    if (e.force === true) {
      if (e.keyring === undefined) ctx.addIssue({ code: 'custom', message: 'a forced rotation names one keyring', path: ['keyring'] });
      if (e.actor === undefined) ctx.addIssue({ code: 'custom', message: 'a forced rotation needs an actor', path: ['actor'] });
      if (e.reason === undefined) ctx.addIssue({ code: 'custom', message: 'a forced rotation needs a reason', path: ['reason'] });
    } else if (e.actor !== undefined || e.reason !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'actor and reason belong to a forced rotation (force: true)', path: ['force'] });
    }
  });
/** The parsed rotate event. */
export type RotateEvent = z.output<typeof rotateEventSchema>;

/** grace-period: `{}` (every keyring) or `{ keyring }`. */
export const gracePeriodEventSchema = z.strictObject({ keyring: keyringName.optional() });
/** The parsed grace-period event. */
export type GracePeriodEvent = z.output<typeof gracePeriodEventSchema>;

const sweepModeSchema = z.enum(['rewrap', 'reencrypt'], "must be 'rewrap' or 'reencrypt'");

/** One item of a Distributed Map batch over an S3 listing (ListObjectsV2 or inventory fields). */
const mapItemSchema = z.strictObject({
  Key: objectKey,
  ETag: z.string().max(256).optional(),
  Size: z.int().min(0).optional(),
  LastModified: z.union([z.string().max(64), z.number()]).optional(),
  StorageClass: z.string().max(64).optional(),
  Bucket: bucketName.optional(),
});

/** reencrypt, Step Functions Distributed Map ItemBatcher payload. */
export const mapBatchEventSchema = z
  .strictObject({
    BatchInput: z.strictObject({
      keyring: keyringName,
      bucket: bucketName,
      prefix: keyPrefix,
      mode: sweepModeSchema,
      version: versionNumber.optional(),
    }),
    Items: z.array(mapItemSchema).min(1, 'must hold at least one item').max(MAX_BATCH_ITEMS),
  })
  .superRefine((e, ctx) => {
    e.Items.forEach((item, i) => {
      if (!item.Key.startsWith(e.BatchInput.prefix)) {
        ctx.addIssue({ code: 'custom', message: 'is outside the batch prefix', path: ['Items', i, 'Key'] });
      }
      if (item.Bucket !== undefined && item.Bucket !== e.BatchInput.bucket) {
        ctx.addIssue({ code: 'custom', message: 'is not the batch bucket', path: ['Items', i, 'Bucket'] });
      }
    });
  });
/** The parsed Distributed Map batch. */
export type MapBatchEvent = z.output<typeof mapBatchEventSchema>;

const taskIdSchema = z.string().min(1).max(1024);
const s3BatchKeySchema = z
  .string()
  .min(1)
  .max(3072)
  .transform((raw, ctx) => {
    try {
      return decodeURIComponent(raw.replace(/\+/g, ' '));
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a URL-encoded key' });
      return z.NEVER;
    }
  })
  .pipe(objectKey);

/** reencrypt, S3 Batch Operations invocation schema 1.0. */
const s3BatchV1Schema = z.strictObject({
  invocationSchemaVersion: z.literal('1.0'),
  invocationId: z.string().min(1).max(1024),
  job: z.looseObject({ id: z.string().min(1).max(256) }),
  tasks: z
    .array(
      z.strictObject({
        taskId: taskIdSchema,
        s3Key: s3BatchKeySchema,
        s3VersionId: z.string().max(1024).nullish(),
        s3BucketArn: z.string().regex(/^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket ARN'),
      }),
    )
    .min(1)
    .max(MAX_BATCH_ITEMS),
});

/** reencrypt, S3 Batch Operations invocation schema 2.0 (user arguments choose keyring and mode). */
const s3BatchV2Schema = z.strictObject({
  invocationSchemaVersion: z.literal('2.0'),
  invocationId: z.string().min(1).max(1024),
  job: z.looseObject({
    id: z.string().min(1).max(256),
    userArguments: z
      .strictObject({ keyring: keyringName.optional(), mode: sweepModeSchema.optional(), version: z.string().regex(/^[1-9]\d{0,6}$/, 'must be a positive integer').optional() })
      .optional(),
  }),
  tasks: z
    .array(
      z.strictObject({
        taskId: taskIdSchema,
        s3Key: s3BatchKeySchema,
        s3VersionId: z.string().max(1024).nullish(),
        s3Bucket: bucketName,
      }),
    )
    .min(1)
    .max(MAX_BATCH_ITEMS),
});

/** reencrypt, S3 Batch Operations task event (either schema version). */
export const s3BatchEventSchema = z.discriminatedUnion('invocationSchemaVersion', [s3BatchV1Schema, s3BatchV2Schema]);
/** The parsed S3 Batch Operations event. */
export type S3BatchEvent = z.output<typeof s3BatchEventSchema>;

/** Every event the reencrypt function accepts. */
export const reencryptEventSchema = z.union([mapBatchEventSchema, s3BatchEventSchema]);
/** The parsed reencrypt event. */
export type ReencryptEvent = z.output<typeof reencryptEventSchema>;

/**
 * cache-invalidate: `{}` or `{ keyring }` on schedule (drop entries of every version past its
 * grace period), or `{ keyring, version, reason: 'revoked' }` (purge one version now).
 */
export const cacheInvalidateEventSchema = z
  .strictObject({
    keyring: keyringName.optional(),
    version: versionNumber.optional(),
    reason: z.literal('revoked', "must be 'revoked'").optional(),
  })
  .superRefine((e, ctx) => {
    if ((e.version === undefined) !== (e.reason === undefined)) {
      ctx.addIssue({ code: 'custom', message: "version and reason: 'revoked' go together", path: [e.version === undefined ? 'version' : 'reason'] });
    }
    if (e.version !== undefined && e.keyring === undefined) {
      ctx.addIssue({ code: 'custom', message: 'a purge names its keyring', path: ['keyring'] });
    }
  });
/** The parsed cache-invalidate event. */
export type CacheInvalidateEvent = z.output<typeof cacheInvalidateEventSchema>;

/** escrow: `{ action: 'archive' | 'drill', keyring? }` (every keyring when absent). */
export const escrowEventSchema = z.strictObject({
  action: z.enum(['archive', 'drill'], "must be 'archive' or 'drill'"),
  keyring: keyringName.optional(),
});
/** The parsed escrow event. */
export type EscrowEvent = z.output<typeof escrowEventSchema>;

/** The EventBridge source of a compromise report. */
export const REVOKE_SOURCE = 'rekey';
/** The EventBridge detail-type of a compromise report. */
export const REVOKE_DETAIL_TYPE = 'Key Version Compromised';

/** revoke: the EventBridge event `Key Version Compromised` from source `rekey`. */
export const revokeEventSchema = z.looseObject({
  version: z.literal('0', "must be '0' (an EventBridge event)").optional(),
  id: z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, 'must be printable characters'),
  source: z.literal(REVOKE_SOURCE, `must be '${REVOKE_SOURCE}'`),
  'detail-type': z.literal(REVOKE_DETAIL_TYPE, `must be '${REVOKE_DETAIL_TYPE}'`),
  account: z.string().max(32).optional(),
  time: z.string().max(64).optional(),
  region: z.string().max(32).optional(),
  resources: z.array(z.string().max(2048)).max(20).optional(),
  detail: z.strictObject({ keyring: keyringName, version: versionNumber, reason: reasonText }),
});
/** The parsed revoke event. */
export type RevokeEvent = z.output<typeof revokeEventSchema>;
