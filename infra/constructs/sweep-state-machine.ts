/**
 * The background re-encryption sweep: one Step Functions state machine with two branches, picked
 * by a Choice on `$.table`. Scheduler starts it per target in `rewrap` mode; the revoke function
 * starts it in `reencrypt` mode for a revoked version.
 *
 * S3 record target: a Distributed Map lists the target (bucket/prefix given in the execution
 * input) and fans the objects out in batches to the reencrypt function.
 * Execution input (shared/adapters/aws/sfn-sweep-starter.ts): `{ "keyring": "pii", "bucket": "records",
 * "prefix": "pii/", "mode": "rewrap" | "reencrypt", "version"?: 3 }`. Each reencrypt invocation
 * receives `{ "BatchInput": { keyring, bucket, prefix, mode, version? }, "Items": [<S3 object>...] }`.
 *
 * DynamoDB table target: a Distributed Map over `$.segments` (the starter lists the segment
 * numbers, so no intrinsic function is needed) runs one child workflow per parallel-scan segment.
 * Execution input: `{ "keyring": "pii", "table": "app-records", "mode": "rewrap" | "reencrypt",
 * "version"?: 3, "totalSegments": 8, "segments": [0, 1, ..., 7] }`.
 * The ItemSelector gives each child `{ keyring, table, mode, version?, segment, totalSegments }`
 * (`segment` = `$$.Map.Item.Value`). The child invokes reencrypt with that event; the function
 * answers `{ keyring, table, mode, version?, segment, totalSegments, counts: { done, skipped, failed },
 * cursor? }`: the event to resume with, its counts summed over the segment so far. While the
 * answer carries `cursor`, a Choice sends it through a Pass back to the invoke (the answer IS the
 * next event); without one the child succeeds, its last answer (the segment's totals) going to
 * the report prefix. Each invocation works for a bounded budget (records and Lambda time), so
 * Step Functions holds every resume point: a redrive resumes the failed segments at their cursor.
 *
 * States (H5b's twin reads them): Choice `TargetKind` → (`$.table` present) Choice `TableNamesVersion`
 * → DISTRIBUTED Map `SweepTable` / `SweepTableVersion`, each with `ReencryptSegment[Version]` (Task,
 * lambda invoke, payload only) → Choice `MorePages[Version]` (`$.cursor` present → Pass
 * `NextPage[Version]` → the Task; otherwise Succeed `SegmentDone[Version]`); otherwise Choice
 * `NamesVersion` → DISTRIBUTED Map `SweepTarget[Version]` (result at `$.map`) → Task
 * `CensusTarget[Version]`: the worker gets `{ census: { keyring, bucket, prefix, startedAt:
 * $$.Execution.StartTime, execution: $$.Execution.Id, results: $.map.ResultWriterDetails } }` and
 * closes the target's record census from the run's results (shared/usecases/record-census.ts).
 */
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { BackendError, ConflictError, ThrottledError } from '../../shared/errors';

/** Props of {@link SweepStateMachine}. */
export interface SweepStateMachineProps {
  /** The reencrypt function (batch worker). */
  readonly worker: lambda.IFunction;
  /** ARNs of the record target buckets: the only buckets the map may list. */
  readonly targetBucketArns: readonly string[];
  /** Concurrent batches. */
  readonly maxConcurrency: number;
  /** Objects per batch. */
  readonly itemsPerBatch: number;
  /** Stop (and alarm) a sweep running longer than this. */
  readonly timeout: Duration;
  /** Bucket and prefix receiving the map run's per-batch results. */
  readonly reportBucket: s3.IBucket;
  readonly reportPrefix: string;
  readonly logRetention: logs.RetentionDays;
}

/** A Step Functions retrier, as the sweep's task renders it (seconds, like the ASL fields). */
export interface SweepRetry {
  readonly errors: readonly string[];
  readonly intervalSeconds: number;
  readonly backoffRate: number;
  readonly maxDelaySeconds: number;
  readonly maxAttempts: number;
}

/** Lambda's error when the worker's reserved concurrency is exhausted (synchronous Invoke). */
export const THROTTLE_ERRORS: readonly string[] = ['Lambda.TooManyRequestsException'];

/**
 * Errors the reencrypt job throws to have its batch retried (shared/usecases/reencrypt.ts:
 * items failed temporarily); Lambda reports a thrown error's `name` as its error type, which is
 * its wire name, declared by the class and equal to its class name (shared/errors.ts, checked in
 * test/unit/errors.test.ts).
 */
export const BATCH_RETRY_ERRORS: readonly string[] = [ThrottledError.name, BackendError.name, ConflictError.name];

/** First wait and cap of the throttling back-off. */
const THROTTLE_FIRST_WAIT_SECONDS = 2;
const THROTTLE_MAX_DELAY_SECONDS = 300;

/**
 * The retrier for a throttled batch. Throttling is contention, not failure: sweeps of several
 * targets may overlap (their schedules are staggered, but a long sweep can still run into the
 * next one) and then share the worker's reserved concurrency, sized for one sweep. A batch
 * therefore waits with capped, jittered exponential back-off for as long as the sweep itself may
 * run: enough attempts that the capped waits add up to the sweep's timeout, which (alarmed as
 * SweepStalled) stays the one bound on a sweep that never gets capacity.
 *
 * @example
 * throttleRetry(Duration.hours(12)).maxAttempts; // 151
 */
export function throttleRetry(timeout: Duration): SweepRetry {
  const budget = timeout.toSeconds();
  let waited = 0;
  let attempts = 0;
  while (waited < budget) {
    waited += Math.min(THROTTLE_FIRST_WAIT_SECONDS * 2 ** attempts, THROTTLE_MAX_DELAY_SECONDS);
    attempts += 1;
  }
  return { errors: THROTTLE_ERRORS, intervalSeconds: THROTTLE_FIRST_WAIT_SECONDS, backoffRate: 2, maxDelaySeconds: THROTTLE_MAX_DELAY_SECONDS, maxAttempts: Math.max(attempts, 1) };
}

/** The retrier for a batch whose items failed temporarily (throttled or unavailable backends, lost races). */
export const BATCH_RETRY: SweepRetry = { errors: BATCH_RETRY_ERRORS, intervalSeconds: 5, backoffRate: 2, maxDelaySeconds: 120, maxAttempts: 6 };

function toRetryProps(r: SweepRetry): sfn.RetryProps {
  return {
    errors: [...r.errors],
    interval: Duration.seconds(r.intervalSeconds),
    backoffRate: r.backoffRate,
    maxDelay: Duration.seconds(r.maxDelaySeconds),
    maxAttempts: r.maxAttempts,
    jitterStrategy: sfn.JitterType.FULL,
  };
}

/** An S3 listing reader whose permission covers the record target buckets only (not `*`). */
class RecordTargetsReader extends sfn.S3ObjectsItemReader {
  public constructor(private readonly bucketArns: readonly string[]) {
    super({ bucketNamePath: sfn.JsonPath.stringAt('$.bucket'), prefix: sfn.JsonPath.stringAt('$.prefix') });
  }

  public override providePolicyStatements(): iam.PolicyStatement[] {
    return this.bucketArns.length === 0 ? [] : [new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [...this.bucketArns] })];
  }
}

/**
 * A result writer whose permission covers its own prefix only (not the whole bucket). JSON Lines
 * with the NONE transformation (each child's metadata and its `Output` as a JSON string, one per
 * line: "ResultWriter (Map)", Step Functions Developer Guide), so the census step reads a run of
 * any size line by line, in constant memory.
 */
class PrefixResultWriter extends sfn.ResultWriterV2 {
  public constructor(private readonly target: s3.IBucket, private readonly keyPrefix: string) {
    super({ bucket: target, prefix: keyPrefix, writerConfig: { outputType: sfn.OutputType.JSONL, transformation: sfn.Transformation.NONE } });
  }

  public override providePolicyStatements(): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
        resources: [this.target.arnForObjects(`${this.keyPrefix}*`)],
      }),
    ];
  }
}

/**
 * The sweep state machine.
 *
 * @example
 * const sweep = new SweepStateMachine(this, 'Sweep', { worker: reencrypt.fn, targetBucketArns, maxConcurrency: 10, itemsPerBatch: 100, timeout: Duration.hours(12), reportBucket, reportPrefix: 'sweeps/', logRetention });
 */
export class SweepStateMachine extends Construct {
  /** The state machine. */
  public readonly stateMachine: sfn.StateMachine;

  public constructor(scope: Construct, id: string, props: SweepStateMachineProps) {
    super(scope, id);
    // A revocation's sweep names the revoked version; a routine (scheduled) sweep names none.
    // JSONPath cannot copy an absent field, so each shape gets its own map.
    const sweepMap = (suffix: string, withVersion: boolean): sfn.Chain => {
      const invoke = new tasks.LambdaInvoke(this, `ReencryptBatch${suffix}`, {
        lambdaFunction: props.worker,
        payloadResponseOnly: true,
        retryOnServiceExceptions: true,
      });
      // The worker's reserved concurrency throttles on purpose; back off instead of failing the sweep
      // (toleratedFailurePercentage is 0: one batch that gives up fails the whole map run).
      invoke.addRetry(toRetryProps(throttleRetry(props.timeout)));
      invoke.addRetry(toRetryProps(BATCH_RETRY));
      const map = new sfn.DistributedMap(this, `SweepTarget${suffix}`, {
        comment: 'Re-encrypt every object of one record target, in batches',
        itemReader: new RecordTargetsReader(props.targetBucketArns),
        itemBatcher: new sfn.ItemBatcher({
          maxItemsPerBatch: props.itemsPerBatch,
          // Rendered verbatim by CDK (no JsonPath processing here), hence the explicit `.$` keys.
          batchInput: {
            'keyring.$': '$.keyring',
            'bucket.$': '$.bucket',
            'prefix.$': '$.prefix',
            'mode.$': '$.mode',
            ...(withVersion ? { 'version.$': '$.version' } : {}),
          },
        }),
        maxConcurrency: props.maxConcurrency,
        toleratedFailurePercentage: 0,
        mapExecutionType: sfn.StateMachineType.STANDARD,
        resultWriterV2: new PrefixResultWriter(props.reportBucket, props.reportPrefix),
        label: `Sweep${suffix}`,
        // Keep the execution input beside the map's output (the manifest's location) for the census.
        resultPath: '$.map',
      });
      map.itemProcessor(invoke);
      // Every batch succeeded (toleratedFailurePercentage 0): the worker sums their census
      // tallies from the run's results into the target's census (shared/usecases/record-census.ts).
      const census = new tasks.LambdaInvoke(this, `CensusTarget${suffix}`, {
        lambdaFunction: props.worker,
        payloadResponseOnly: true,
        retryOnServiceExceptions: true,
        payload: sfn.TaskInput.fromObject({
          census: {
            keyring: sfn.JsonPath.stringAt('$.keyring'),
            bucket: sfn.JsonPath.stringAt('$.bucket'),
            prefix: sfn.JsonPath.stringAt('$.prefix'),
            startedAt: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
            execution: sfn.JsonPath.stringAt('$$.Execution.Id'),
            results: sfn.JsonPath.objectAt('$.map.ResultWriterDetails'),
          },
        }),
        resultPath: '$.census',
      });
      census.addRetry(toRetryProps(throttleRetry(props.timeout)));
      census.addRetry(toRetryProps(BATCH_RETRY));
      return map.next(census);
    };
    const s3Sweep = new sfn.Choice(this, 'NamesVersion')
      .when(sfn.Condition.isPresent('$.version'), sweepMap('Version', true))
      .otherwise(sweepMap('', false));

    // One child workflow per parallel-scan segment, looping on the worker's cursor.
    const tableMap = (suffix: string, withVersion: boolean): sfn.DistributedMap => {
      const invoke = new tasks.LambdaInvoke(this, `ReencryptSegment${suffix}`, {
        lambdaFunction: props.worker,
        payloadResponseOnly: true,
        retryOnServiceExceptions: true,
      });
      invoke.addRetry(toRetryProps(throttleRetry(props.timeout)));
      invoke.addRetry(toRetryProps(BATCH_RETRY));
      // The worker's answer is the next event already (every field echoed, cursor added).
      const nextPage = new sfn.Pass(this, `NextPage${suffix}`, { comment: 'Resume the segment at the cursor the worker returned' });
      const more = new sfn.Choice(this, `MorePages${suffix}`)
        .when(sfn.Condition.isPresent('$.cursor'), nextPage.next(invoke))
        .otherwise(new sfn.Succeed(this, `SegmentDone${suffix}`));
      invoke.next(more);
      const map = new sfn.DistributedMap(this, `SweepTable${suffix}`, {
        comment: 'Re-encrypt every record of one DynamoDB table target, one child per parallel-scan segment',
        itemsPath: sfn.JsonPath.stringAt('$.segments'),
        itemSelector: {
          keyring: sfn.JsonPath.stringAt('$.keyring'),
          table: sfn.JsonPath.stringAt('$.table'),
          mode: sfn.JsonPath.stringAt('$.mode'),
          ...(withVersion ? { version: sfn.JsonPath.numberAt('$.version') } : {}),
          segment: sfn.JsonPath.numberAt('$$.Map.Item.Value'),
          totalSegments: sfn.JsonPath.numberAt('$.totalSegments'),
        },
        maxConcurrency: props.maxConcurrency,
        toleratedFailurePercentage: 0,
        mapExecutionType: sfn.StateMachineType.STANDARD,
        resultWriterV2: new PrefixResultWriter(props.reportBucket, props.reportPrefix),
        label: `SweepTable${suffix}`,
      });
      map.itemProcessor(invoke);
      return map;
    };
    const tableSweep = new sfn.Choice(this, 'TableNamesVersion')
      .when(sfn.Condition.isPresent('$.version'), tableMap('Version', true))
      .otherwise(tableMap('', false));
    const start = new sfn.Choice(this, 'TargetKind')
      .when(sfn.Condition.isPresent('$.table'), tableSweep)
      .otherwise(s3Sweep);

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(start),
      timeout: props.timeout,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      comment: 'rekey: background re-encryption sweep of one record target (S3 prefix or DynamoDB table)',
    });
  }
}
