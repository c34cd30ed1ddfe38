/**
 * Contracts the event drivers (scheduler, buses and rules, S3 notifications, alarms) share with
 * the rest of the twin. The drivers reach Lambda, Step Functions, SQS and SNS only through
 * {@link TargetInvoker}, which the integrator wires to the runtime and the proxy; they read
 * metrics only through {@link MetricSource} (structurally the runtime's MetricStore).
 */

/** The calls a driver makes once it has authorized them itself. */
export interface TargetInvoker {
  /** Asynchronous Lambda invoke (InvocationType Event), as the given principal: the caller already authorized it. */
  invokeLambdaAsync(functionArn: string, payload: unknown): Promise<void>;
  /** Step Functions StartExecution (Scheduler's universal/templated target) */
  startExecution(stateMachineArn: string, input: string, name?: string): Promise<void>;
  /** SQS SendMessage to a dead-letter queue, as the given principal (a role ARN or a service principal), authorized by the caller. */
  sendToQueue(queueArn: string, body: string, attributes?: Record<string, string>): Promise<void>;
  /** SNS Publish (alarm actions with a subject; EventBridge rule targets without one). */
  publish(topicArn: string, subject: string | undefined, message: string): Promise<void>;
}

/** One metric data point (same shape as test/twin/runtime/metric-store.ts MetricDatum). */
export interface MetricDatum {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly value: number;
  readonly unit?: string;
  /** Milliseconds since the epoch, simulated. */
  readonly timestamp: number;
}

/** Where the alarm driver reads data points (the runtime's MetricStore satisfies it). */
export interface MetricSource {
  /** Data points of one metric whose dimensions include `dimensions`, with `from <= timestamp < to`. */
  query(q: {
    readonly namespace: string;
    readonly name: string;
    readonly dimensions?: Readonly<Record<string, string>>;
    readonly from: number;
    readonly to: number;
  }): readonly MetricDatum[];
  /** Every data point. */
  all(): readonly MetricDatum[];
}

/**
 * The EventBridge event envelope as targets receive it.
 * Source: "Amazon EventBridge events" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events.html):
 * version '0', id, detail-type, source, account, time, region, resources, detail.
 */
export interface EventEnvelope {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  /** ISO 8601, seconds precision (`2027-01-01T00:00:00Z`). */
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: Record<string, unknown>;
}

/** How a driver's delivery of one event or invocation ended. */
export type DeliveryOutcome =
  /** The target call was made and returned. */
  | 'delivered'
  /** Every attempt failed; the event went to the dead-letter queue. */
  | 'dead-lettered'
  /** Every attempt failed and there is no dead-letter queue: the event is lost. */
  | 'dropped'
  /** Every attempt failed and the dead-letter queue refused it (or its SendMessage failed): lost. */
  | 'dlq-failed';

/** An error a target call ended with, as the service records it. */
export interface DeliveryError {
  readonly code: string;
  readonly message: string;
}

/** Thrown (or returned) when an authorizer says no; the driver maps it to the service's error code. */
export class DeniedError extends Error {
  public constructor(
    public readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

/** Seconds-precision ISO time, the format EventBridge and S3 events carry. */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The error code and message of anything a target call threw. */
export function errorOf(err: unknown): DeliveryError {
  if (err instanceof DeniedError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: err.name || 'Error', message: err.message };
  return { code: 'Error', message: String(err) };
}

/** Which service an ARN names (`lambda`, `states`, `sqs`, ...). */
export function arnService(arn: string): string {
  return arn.split(':')[2] ?? '';
}
