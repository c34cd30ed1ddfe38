/**
 * The background re-encryption sweep: one Step Functions state machine whose Distributed Map
 * lists a record target (bucket/prefix given in the execution input) and fans the objects out
 * in batches to the reencrypt function. Scheduler starts it per record target in `rewrap` mode;
 * the revoke function starts it in `reencrypt` mode for a revoked version.
 *
 * Execution input (shared/runtime/sfn-sweep-starter.ts): `{ "keyring": "pii", "bucket": "records",
 * "prefix": "pii/", "mode": "rewrap" | "reencrypt", "version"?: 3 }`. Each reencrypt invocation
 * receives `{ "BatchInput": { keyring, bucket, prefix, mode, version? }, "Items": [<S3 object>...] }`.
 */
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';

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

/** An S3 listing reader whose permission covers the record target buckets only (not `*`). */
class RecordTargetsReader extends sfn.S3ObjectsItemReader {
  public constructor(private readonly bucketArns: readonly string[]) {
    super({ bucketNamePath: sfn.JsonPath.stringAt('$.bucket'), prefix: sfn.JsonPath.stringAt('$.prefix') });
  }

  public override providePolicyStatements(): iam.PolicyStatement[] {
    return this.bucketArns.length === 0 ? [] : [new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [...this.bucketArns] })];
  }
}

/** A result writer whose permission covers its own prefix only (not the whole bucket). */
class PrefixResultWriter extends sfn.ResultWriterV2 {
  public constructor(private readonly target: s3.IBucket, private readonly keyPrefix: string) {
    super({ bucket: target, prefix: keyPrefix });
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
    const sweepMap = (suffix: string, withVersion: boolean): sfn.DistributedMap => {
      const invoke = new tasks.LambdaInvoke(this, `ReencryptBatch${suffix}`, {
        lambdaFunction: props.worker,
        payloadResponseOnly: true,
        retryOnServiceExceptions: true,
      });
      // The worker's reserved concurrency throttles on purpose; back off instead of failing the sweep.
      invoke.addRetry({
        errors: ['Lambda.TooManyRequestsException'],
        interval: Duration.seconds(2),
        backoffRate: 2,
        maxAttempts: 8,
        jitterStrategy: sfn.JitterType.FULL,
      });
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
      });
      map.itemProcessor(invoke);
      return map;
    };
    const start = new sfn.Choice(this, 'NamesVersion')
      .when(sfn.Condition.isPresent('$.version'), sweepMap('Version', true))
      .otherwise(sweepMap('', false));

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(start),
      timeout: props.timeout,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      comment: 'rekey: background re-encryption sweep of one record target',
    });
  }
}
