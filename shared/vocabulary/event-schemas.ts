/**
 * zod schemas (zod/mini, see ./zod) of the events each rekey function accepts. Strict objects
 * wherever rekey owns the shape (extra fields are a mistake worth reporting); AWS-owned envelopes
 * (EventBridge, Step Functions, S3 Batch Operations, S3 inventory) are loose objects that type
 * the documented fields rekey may read, each schema citing the AWS page its shape comes from.
 *
 * Each schema is a `@__PURE__` `z.lazy`, like those of ./names: a function's bundle keeps only
 * the schemas of its own events, and builds them on the first event rather than at load.
 */
import * as z from './zod';
import { COMPROMISE_EVENT_DETAIL_TYPE, COMPROMISE_EVENT_SOURCE, S3_OBJECT_CREATED, S3_OBJECT_DELETED } from './event-names';
import { KMS_DECRYPT_VIA_CLOUDTRAIL } from './key-use-names';
import { actorText, bucketName, keyPrefix, keyringName, objectKey, reasonText, versionNumber } from './names';

/** Most keyrings one scheduled invocation names explicitly. */
export const MAX_KEYRINGS_PER_EVENT = 100;
/** Most items in one re-encryption batch (a Distributed Map ItemBatcher or S3 Batch task list). */
export const MAX_BATCH_ITEMS = 1000;

/**
 * rotate: `{ keyring }` or `{ keyrings: [...] }` from the schedule (rotates only when the policy
 * says so), or `{ keyring, force: true, actor, reason }` from an operator ("rotate now").
 */
export const rotateEventSchema = /* @__PURE__ */ z.lazy(() =>
  z
    .strictObject({
      keyring: z.optional(keyringName),
      keyrings: z.optional(z.array(keyringName).check(z.minLength(1, 'must name at least one keyring'), z.maxLength(MAX_KEYRINGS_PER_EVENT))),
      force: z.optional(z.literal(true, 'must be true when present')),
      actor: z.optional(actorText),
      reason: z.optional(reasonText),
    })
    .check(
      z.superRefine((e, ctx) => {
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
      }),
    ),
);
/** The parsed rotate event. */
export type RotateEvent = z.output<typeof rotateEventSchema>;

/** grace-period: `{}` (every keyring) or `{ keyring }`. */
export const gracePeriodEventSchema = /* @__PURE__ */ z.lazy(() => z.strictObject({ keyring: z.optional(keyringName) }));
/** The parsed grace-period event. */
export type GracePeriodEvent = z.output<typeof gracePeriodEventSchema>;

const sweepModeSchema = /* @__PURE__ */ z.lazy(() => z.enum(['rewrap', 'reencrypt'], "must be 'rewrap' or 'reencrypt'"));

// The fields below are AWS's, not rekey's: each item schema is a loose object (AWS may add
// fields to its own envelope) that types the documented fields, and the job reads only `Key`.

/**
 * One object of the Step Functions S3 listing reader (`arn:aws:states:::s3:listObjectsV2`).
 * Step Functions renames ListObjectsV2's `ETag` to `Etag` (quotes kept) and sends `LastModified`
 * as epoch seconds (a JSON number), per "ItemReader (Map)", section "A list of Amazon S3 objects"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html#itemsource-example-s3-object-data):
 * `{ "Etag": "\"05704fbdccb224cb01c59005bebbad28\"", "Key": "processData/images/n02085620_1073.jpg",
 * "LastModified": 1668699881, "Size": 34910, "StorageClass": "STANDARD" }`.
 */
const listedObjectFields = () => ({
  Key: objectKey,
  Etag: z.optional(z.string().check(z.maxLength(256))),
  LastModified: z.optional(z.number().check(z.gte(0))),
  Size: z.optional(z.int().check(z.gte(0))),
  StorageClass: z.optional(z.string().check(z.maxLength(64))),
});

/**
 * One row of an S3 inventory read by the `MANIFEST` item reader: the manifest's `fileSchema`
 * names the fields ("Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate,
 * ETag, StorageClass, ...", Amazon S3 User Guide, "Locating your inventory list", example
 * manifest.json) and a CSV inventory carries every value as text, hence `Size` as digits and
 * `LastModifiedDate` as an ISO 8601 string.
 */
const inventoryRowFields = () => ({
  Bucket: bucketName,
  Key: objectKey,
  VersionId: z.optional(z.string().check(z.maxLength(1024))),
  IsLatest: z.optional(z.enum(['true', 'false'])),
  IsDeleteMarker: z.optional(z.enum(['true', 'false'])),
  Size: z.optional(z.union([z.int().check(z.gte(0)), z.string().check(z.regex(/^\d{1,20}$/, 'must be a byte count'))])),
  LastModifiedDate: z.optional(z.string().check(z.maxLength(64))),
  ETag: z.optional(z.string().check(z.maxLength(256))),
  StorageClass: z.optional(z.string().check(z.maxLength(64))),
});

/** One item of a Distributed Map batch: an S3 listing object or an S3 inventory row. */
const mapItemSchema = /* @__PURE__ */ z.lazy(() => z.union([z.looseObject(inventoryRowFields()), z.looseObject(listedObjectFields())]));

/** reencrypt, Step Functions Distributed Map ItemBatcher payload. */
export const mapBatchEventSchema = /* @__PURE__ */ z.lazy(() =>
  z
    .strictObject({
      BatchInput: z.strictObject({
        keyring: keyringName,
        bucket: bucketName,
        prefix: keyPrefix,
        mode: sweepModeSchema,
        version: z.optional(versionNumber),
      }),
      Items: z.array(mapItemSchema).check(z.minLength(1, 'must hold at least one item'), z.maxLength(MAX_BATCH_ITEMS)),
    })
    .check(
      z.superRefine((e, ctx) => {
        e.Items.forEach((item, i) => {
          if (!item.Key.startsWith(e.BatchInput.prefix)) {
            ctx.addIssue({ code: 'custom', message: 'is outside the batch prefix', path: ['Items', i, 'Key'] });
          }
          if ('Bucket' in item && item.Bucket !== e.BatchInput.bucket) {
            ctx.addIssue({ code: 'custom', message: 'is not the batch bucket', path: ['Items', i, 'Bucket'] });
          }
        });
      }),
    ),
);
/** The parsed Distributed Map batch. */
export type MapBatchEvent = z.output<typeof mapBatchEventSchema>;

const taskIdSchema = /* @__PURE__ */ z.lazy(() => z.string().check(z.minLength(1), z.maxLength(1024)));
const s3BatchKeySchema = /* @__PURE__ */ z.lazy(() =>
  z.pipe(
    z.pipe(
      z.string().check(z.minLength(1), z.maxLength(3072)),
      z.transform((raw: string, ctx) => {
        try {
          return decodeURIComponent(raw.replace(/\+/g, ' '));
        } catch {
          ctx.issues.push({ code: 'custom', message: 'is not a URL-encoded key', input: raw });
          return z.NEVER;
        }
      }),
    ),
    objectKey,
  ),
);

/** Fields every S3 Batch Operations task carries, in both invocation schema versions. */
const s3BatchTaskFields = () => ({
  taskId: taskIdSchema,
  s3Key: s3BatchKeySchema,
  s3VersionId: z.nullish(z.string().check(z.maxLength(1024))),
});

/** reencrypt, S3 Batch Operations invocation schema 1.0. */
const s3BatchV1Schema = () =>
  z.strictObject({
    invocationSchemaVersion: z.literal('1.0'),
    invocationId: z.string().check(z.minLength(1), z.maxLength(1024)),
    job: z.looseObject({ id: z.string().check(z.minLength(1), z.maxLength(256)) }),
    tasks: z
      .array(
        z.strictObject({
          ...s3BatchTaskFields(),
          // The bucket is the ARN's last field; AWS's own example ("Invoke AWS Lambda function",
          // Amazon S3 User Guide) shows `arn:aws:s3:us-east-1:0123456788:awsexamplebucket1`, so
          // region and account are accepted, as the canonical `arn:aws:s3:::bucket` is.
          s3BucketArn: z.string().check(z.regex(/^arn:aws[a-z-]*:s3:[a-z0-9-]*:\d{0,12}:[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket ARN')),
        }),
      )
      .check(z.minLength(1), z.maxLength(MAX_BATCH_ITEMS)),
  });

/** reencrypt, S3 Batch Operations invocation schema 2.0 (user arguments choose keyring and mode). */
const s3BatchV2Schema = () =>
  z.strictObject({
    invocationSchemaVersion: z.literal('2.0'),
    invocationId: z.string().check(z.minLength(1), z.maxLength(1024)),
    job: z.looseObject({
      id: z.string().check(z.minLength(1), z.maxLength(256)),
      userArguments: z.optional(
        z.strictObject({
          keyring: z.optional(keyringName),
          mode: z.optional(sweepModeSchema),
          version: z.optional(z.string().check(z.regex(/^[1-9]\d{0,6}$/, 'must be a positive integer'))),
        }),
      ),
    }),
    tasks: z
      .array(
        z.strictObject({
          ...s3BatchTaskFields(),
          s3Bucket: bucketName,
        }),
      )
      .check(z.minLength(1), z.maxLength(MAX_BATCH_ITEMS)),
  });

/** reencrypt, S3 Batch Operations task event (either schema version). */
export const s3BatchEventSchema = /* @__PURE__ */ z.lazy(() => z.discriminatedUnion('invocationSchemaVersion', [s3BatchV1Schema(), s3BatchV2Schema()]));
/** The parsed S3 Batch Operations event. */
export type S3BatchEvent = z.output<typeof s3BatchEventSchema>;

/** Parallel-scan segments of a table target when the configuration names none. */
export const DEFAULT_TABLE_SEGMENTS = 8;
/** Most parallel-scan segments of one table target (each is a child workflow of the sweep's map). */
export const MAX_TABLE_SEGMENTS = 64;

/**
 * A DynamoDB table name: 3 to 255 of `a-z A-Z 0-9 _ - .`, per "Supported data types and naming
 * rules in Amazon DynamoDB" (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html).
 *
 * @example
 * z.safeParse(dynamoTableName, 'app-records').success; // true
 */
export const dynamoTableName = /* @__PURE__ */ z.lazy(() =>
  z.string().check(z.regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be 3 to 255 letters, digits, "_", "-" or "."')),
);

/**
 * Parallel-scan segments of a table target: 1 .. {@link MAX_TABLE_SEGMENTS}.
 *
 * @example
 * z.safeParse(tableSegments, 8).success; // true
 */
export const tableSegments = /* @__PURE__ */ z.lazy(() =>
  z.int('must be an integer').check(z.gte(1, `must be 1 to ${MAX_TABLE_SEGMENTS}`), z.lte(MAX_TABLE_SEGMENTS, `must be 1 to ${MAX_TABLE_SEGMENTS}`)),
);

/** A segment's counts so far (rekey's own shape: echoed back by the sweep's loop). */
const segmentCountsSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({ done: z.int().check(z.gte(0)), skipped: z.int().check(z.gte(0)), failed: z.int().check(z.gte(0)) }),
);

/**
 * reencrypt, one page-run of one parallel-scan segment of a DynamoDB table target (rekey's own
 * shape, built by the sweep state machine's ItemSelector and, on a resume, by the previous
 * invocation's response; see infra/constructs/sweep-state-machine.ts). `counts` is what the
 * segment's earlier invocations did: the response adds to it, so the last one reports the segment.
 */
export const segmentEventSchema = /* @__PURE__ */ z.lazy(() =>
  z
    .strictObject({
      keyring: keyringName,
      table: dynamoTableName,
      mode: sweepModeSchema,
      version: z.optional(versionNumber),
      segment: z.int('must be an integer').check(z.gte(0, 'must be at least 0')),
      totalSegments: tableSegments,
      cursor: z.optional(z.string().check(z.minLength(1, 'must not be empty'), z.maxLength(4096, 'must be at most 4096 characters'), z.regex(/^[A-Za-z0-9_-]+$/, 'must be base64url'))),
      counts: z.optional(segmentCountsSchema),
    })
    .check(
      z.superRefine((e, ctx) => {
        if (e.segment >= e.totalSegments) ctx.addIssue({ code: 'custom', message: 'must be below totalSegments', path: ['segment'] });
        if (e.mode === 'reencrypt' && e.version === undefined) ctx.addIssue({ code: 'custom', message: 'is required in reencrypt mode', path: ['version'] });
      }),
    ),
);
/** The parsed segment event. */
export type SegmentEvent = z.output<typeof segmentEventSchema>;

/** The sweep execution input of a table target (infra/constructs/sweep-state-machine.ts). */
export interface TableSweepInput {
  readonly keyring: string;
  readonly table: string;
  readonly mode: 'rewrap' | 'reencrypt';
  readonly version?: number;
  readonly totalSegments: number;
  /** `[0, 1, ..., totalSegments - 1]`: the map's items (the ASL lists them without intrinsics). */
  readonly segments: readonly number[];
}

/**
 * The execution input that sweeps a table target: what Scheduler sends (rewrap) and the revoke
 * function starts (reencrypt of one version).
 *
 * @example
 * tableSweepInput({ keyring: 'pii', table: 'app-records', segments: 2 }, 'rewrap');
 * // { keyring: 'pii', table: 'app-records', mode: 'rewrap', totalSegments: 2, segments: [0, 1] }
 */
export function tableSweepInput(target: { readonly keyring: string; readonly table: string; readonly segments: number }, mode: 'rewrap' | 'reencrypt', version?: number): TableSweepInput {
  return {
    keyring: target.keyring,
    table: target.table,
    mode,
    ...(version === undefined ? {} : { version }),
    totalSegments: target.segments,
    segments: Array.from({ length: target.segments }, (_, i) => i),
  };
}

/** The S3-listed events of the reencrypt function (runReencrypt's input). */
export const reencryptEventSchema = /* @__PURE__ */ z.lazy(() => z.union([mapBatchEventSchema, s3BatchEventSchema]));
/** The parsed reencrypt event. */
export type ReencryptEvent = z.output<typeof reencryptEventSchema>;

/**
 * reencrypt, the census step after a successful S3 map run (rekey's own shape, built by the
 * sweep state machine's `CensusTarget` Task, infra/constructs/sweep-state-machine.ts): the
 * target, `$$.Execution.StartTime` and `.Id`, and the map's output `ResultWriterDetails`
 * (`{ Bucket, Key }` of the run's manifest.json: "ResultWriter (Map)", Step Functions Developer
 * Guide, https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html).
 */
export const censusCloseEventSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    census: z.strictObject({
      keyring: keyringName,
      bucket: bucketName,
      prefix: keyPrefix,
      startedAt: z.iso.datetime({ message: 'must be an ISO 8601 UTC time', offset: false }),
      execution: z.optional(z.string().check(z.minLength(1), z.maxLength(2048))),
      results: z.strictObject({ Bucket: bucketName, Key: objectKey }),
    }),
  }),
);
/** The parsed census step event. */
export type CensusCloseEventInput = z.output<typeof censusCloseEventSchema>;

/** Every event the reencrypt function accepts: an S3-listed batch, a DynamoDB segment, or the census step. */
export const reencryptFunctionEventSchema = /* @__PURE__ */ z.lazy(() => z.union([reencryptEventSchema, segmentEventSchema, censusCloseEventSchema]));
/** The parsed reencrypt function event. */
export type ReencryptFunctionEvent = z.output<typeof reencryptFunctionEventSchema>;

/**
 * cache-invalidate: `{}` or `{ keyring }` on schedule (drop entries of every version past its
 * grace period), or `{ keyring, version, reason: 'revoked' }` (purge one version now).
 */
export const cacheInvalidateEventSchema = /* @__PURE__ */ z.lazy(() =>
  z
    .strictObject({
      keyring: z.optional(keyringName),
      version: z.optional(versionNumber),
      reason: z.optional(z.literal('revoked', "must be 'revoked'")),
    })
    .check(
      z.superRefine((e, ctx) => {
        if ((e.version === undefined) !== (e.reason === undefined)) {
          ctx.addIssue({ code: 'custom', message: "version and reason: 'revoked' go together", path: [e.version === undefined ? 'version' : 'reason'] });
        }
        if (e.version !== undefined && e.keyring === undefined) {
          ctx.addIssue({ code: 'custom', message: 'a purge names its keyring', path: ['keyring'] });
        }
      }),
    ),
);
/** The parsed cache-invalidate event. */
export type CacheInvalidateEvent = z.output<typeof cacheInvalidateEventSchema>;

/**
 * escrow: `{ action: 'archive' | 'drill', keyring? }` (every keyring when absent), or
 * `{ action: 'restore', keyring, version, reason?, actor? }` from an operator (put a destroyed
 * or lost version back into the catalog from escrow).
 */
export const escrowEventSchema = /* @__PURE__ */ z.lazy(() =>
  z
    .strictObject({
      action: z.enum(['archive', 'drill', 'restore'], "must be 'archive', 'drill' or 'restore'"),
      keyring: z.optional(keyringName),
      version: z.optional(versionNumber),
      reason: z.optional(reasonText),
      actor: z.optional(actorText),
    })
    .check(
      z.superRefine((e, ctx) => {
        if (e.action === 'restore') {
          if (e.keyring === undefined) ctx.addIssue({ code: 'custom', message: 'a restore names its keyring', path: ['keyring'] });
          if (e.version === undefined) ctx.addIssue({ code: 'custom', message: 'a restore names its version', path: ['version'] });
          return;
        }
        for (const field of ['version', 'reason', 'actor'] as const) {
          if (e[field] !== undefined) ctx.addIssue({ code: 'custom', message: `${field} belongs to a restore only`, path: [field] });
        }
      }),
    ),
);
/** The parsed escrow event. */
export type EscrowEvent = z.output<typeof escrowEventSchema>;

/** The EventBridge source of a compromise report (./event-names, kept under this name for existing callers). */
export const REVOKE_SOURCE = COMPROMISE_EVENT_SOURCE;
/** The EventBridge detail-type of a compromise report (./event-names). */
export const REVOKE_DETAIL_TYPE = COMPROMISE_EVENT_DETAIL_TYPE;

/** revoke: the EventBridge event `Key Version Compromised` from source `rekey`. */
export const revokeEventSchema = /* @__PURE__ */ z.lazy(() =>
  z.looseObject({
    version: z.optional(z.literal('0', "must be '0' (an EventBridge event)")),
    id: z.string().check(z.minLength(1), z.maxLength(128), z.regex(/^[\x21-\x7e]+$/, 'must be printable characters')),
    source: z.literal(REVOKE_SOURCE, `must be '${REVOKE_SOURCE}'`),
    'detail-type': z.literal(REVOKE_DETAIL_TYPE, `must be '${REVOKE_DETAIL_TYPE}'`),
    account: z.optional(z.string().check(z.maxLength(32))),
    time: z.optional(z.string().check(z.maxLength(64))),
    region: z.optional(z.string().check(z.maxLength(32))),
    resources: z.optional(z.array(z.string().check(z.maxLength(2048))).check(z.maxLength(20))),
    detail: z.strictObject({
      keyring: keyringName,
      version: versionNumber,
      reason: reasonText,
      // Who asked: the sender's IAM principal ARN (the CLI's STS GetCallerIdentity). The bus policy
      // admits only the stack's security principals, so the claim comes from one of them; the revoke
      // function records it as the actor in the ledger and the audit trail.
      requestedBy: z.optional(z.string().check(z.maxLength(2048), z.regex(/^arn:aws[a-z-]*:(iam|sts)::\d{12}:[\x21-\x7e]+$/, 'must be an IAM principal ARN'))),
    }),
  }),
);
/** The parsed revoke event. */
export type RevokeEvent = z.output<typeof revokeEventSchema>;

/** key-access, on its schedule: `{}` (every keyring) or `{ keyring }`. */
export const keyAccessScheduleEventSchema = /* @__PURE__ */ z.lazy(() => z.strictObject({ keyring: z.optional(keyringName) }));

/**
 * key-access, on a compromise report: only the fields it reads (the keyring and version whose
 * grants go at once); revoke validates the whole report.
 */
export const keyAccessCompromiseEventSchema = /* @__PURE__ */ z.lazy(() =>
  z.looseObject({
    source: z.literal(COMPROMISE_EVENT_SOURCE),
    'detail-type': z.literal(COMPROMISE_EVENT_DETAIL_TYPE),
    detail: z.looseObject({ keyring: keyringName, version: versionNumber }),
  }),
);

/**
 * key-access, on a catalog write: S3's `Object Created` event as EventBridge delivers it
 * ("Amazon S3 Event Notifications with EventBridge", detail `{ bucket: { name }, object: { key, ... } }`,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html); only the object key is read.
 */
export const catalogWrittenEventSchema = /* @__PURE__ */ z.lazy(() =>
  z.looseObject({
    source: z.literal(S3_OBJECT_CREATED.source),
    detail: z.looseObject({ object: z.looseObject({ key: z.string().check(z.maxLength(1024)) }) }),
  }),
);

/** A version number as KMS encryption context carries it: a decimal string without leading zeros. */
const contextVersion = /* @__PURE__ */ z.lazy(() => z.string().check(z.regex(/^[1-9]\d{0,6}$/, 'must be a positive integer in decimal')));

/**
 * key-use: a successful KMS Decrypt of a version key, as CloudTrail records it ("Decrypt", AWS
 * KMS Developer Guide, https://docs.aws.amazon.com/kms/latest/developerguide/ct-decrypt.html:
 * requestParameters.encryptionContext, resources [{ ARN, type AWS::KMS::Key }], userIdentity.arn;
 * a failed call carries errorCode). Only the documented fields the function reads are typed;
 * the record's other fields are AWS's (loose objects).
 */
export const keyUseEventSchema = /* @__PURE__ */ z.lazy(() =>
  z.looseObject({
    id: z.string().check(z.minLength(1), z.maxLength(128)),
    source: z.literal(KMS_DECRYPT_VIA_CLOUDTRAIL.source, `must be '${KMS_DECRYPT_VIA_CLOUDTRAIL.source}'`),
    'detail-type': z.literal(KMS_DECRYPT_VIA_CLOUDTRAIL.detailType, `must be '${KMS_DECRYPT_VIA_CLOUDTRAIL.detailType}'`),
    detail: z.looseObject({
      eventSource: z.literal(KMS_DECRYPT_VIA_CLOUDTRAIL.eventSource, `must be '${KMS_DECRYPT_VIA_CLOUDTRAIL.eventSource}'`),
      eventName: z.literal(KMS_DECRYPT_VIA_CLOUDTRAIL.eventName, `must be '${KMS_DECRYPT_VIA_CLOUDTRAIL.eventName}'`),
      eventTime: z.iso.datetime({ message: 'must be an ISO 8601 UTC time' }),
      errorCode: z.optional(z.string().check(z.maxLength(256))),
      userIdentity: z.looseObject({
        arn: z.optional(z.string().check(z.maxLength(2048))),
        sessionContext: z.optional(z.looseObject({ sessionIssuer: z.optional(z.looseObject({ arn: z.optional(z.string().check(z.maxLength(2048))) })) })),
      }),
      requestParameters: z.looseObject({ encryptionContext: z.looseObject({ keyring: keyringName, version: contextVersion }) }),
      resources: z.array(z.looseObject({ ARN: z.string().check(z.maxLength(2048)) })).check(z.minLength(1, 'must name the KMS key'), z.maxLength(20)),
    }),
  }),
);
/** The parsed key-use event. */
export type KeyUseEvent = z.output<typeof keyUseEventSchema>;

/**
 * key-use, a write to a record target: S3's `Object Created` or `Object Deleted` event on
 * EventBridge ("EventBridge event message structure", Amazon S3 User Guide,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html: `id` a UUID per event,
 * `time`, `detail.bucket.name`, `detail.object.key`; the other fields are AWS's, loose). It
 * becomes a census write mark of whatever is current at the key (shared/usecases/record-census.ts):
 * on a versioned bucket a delete can make an older version current again.
 */
export const recordWrittenEventSchema = /* @__PURE__ */ z.lazy(() =>
  z.looseObject({
    id: z.string().check(z.regex(/^[A-Za-z0-9-]{1,128}$/, 'must be an event id')),
    source: z.literal(S3_OBJECT_CREATED.source, `must be '${S3_OBJECT_CREATED.source}'`),
    'detail-type': z.enum([S3_OBJECT_CREATED.detailType, S3_OBJECT_DELETED.detailType], `must be '${S3_OBJECT_CREATED.detailType}' or '${S3_OBJECT_DELETED.detailType}'`),
    time: z.iso.datetime({ message: 'must be an ISO 8601 UTC time' }),
    detail: z.looseObject({ bucket: z.looseObject({ name: bucketName }), object: z.looseObject({ key: z.string().check(z.minLength(1), z.maxLength(1024)) }) }),
  }),
);
/** The parsed record-written event. */
export type RecordWrittenEventInput = z.output<typeof recordWrittenEventSchema>;

/** Every event the key-use function accepts: a KMS Decrypt from CloudTrail, or a record target write from S3. */
export const keyUseFunctionEventSchema = /* @__PURE__ */ z.lazy(() => z.union([keyUseEventSchema, recordWrittenEventSchema]));
